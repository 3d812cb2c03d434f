/** One problem found in the desired state (Terraform-style diagnostics: collected, never thrown one by one). */
export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  /** Stable code, e.g. `yaml-syntax`, `unknown-kind`, `missing-field` (see README). */
  readonly code: DiagnosticCode;
  readonly message: string;
  /** Path relative to the desired-state root. */
  readonly file?: string;
  /** 1-based. */
  readonly line?: number;
  /** 1-based. */
  readonly column?: number;
  /** Field path inside the document, e.g. `spec.deploy.replicas`. */
  readonly field?: string;
  /** What to do about it. */
  readonly hint?: string;
}

export type DiagnosticCode =
  | 'yaml-syntax'
  | 'not-a-resource'
  | 'unknown-kind'
  | 'unknown-field'
  | 'missing-field'
  | 'wrong-type'
  | 'invalid-value'
  | 'duplicate-name'
  | 'dangling-reference'
  | 'unknown-output'
  | 'dependency-cycle'
  | 'inline-secret'
  | 'chart-error'
  | 'build-failed'
  | 'read-error';

/** `file:line:col: error[code] field: message (hint)` — one line, for terminals and logs. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.file ? `${d.file}${d.line ? `:${d.line}${d.column ? `:${d.column}` : ''}` : ''}: ` : '';
  const field = d.field ? `${d.field}: ` : '';
  const hint = d.hint ? `\n    hint: ${d.hint}` : '';
  return `${where}${d.severity}[${d.code}] ${field}${d.message}${hint}`;
}
