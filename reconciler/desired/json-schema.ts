import type { Field, KindSchema } from '../../providers/sdk/index.ts';

/**
 * A JSON Schema (draft 2020-12) for desired-state files, written from the kinds' schemas, so
 * editors complete and check them: put `# yaml-language-server: $schema=<path>` at the top of a file.
 */
export function desiredStateJsonSchema(schemas: readonly KindSchema[]): object {
  const reference = {
    type: 'object',
    description: 'A reference to another resource ("kind/name"), optionally to one of its outputs',
    properties: { ref: { type: 'string', pattern: '^[a-z]+\\.[A-Za-z]+/.+$' }, output: { type: 'string' } },
    required: ['ref'],
    additionalProperties: false,
  };
  const secretRef = {
    type: 'object',
    description:
      'A secret, by name; its value comes from KEELSON_SECRET_<NAME> or the secrets directory, never from Git',
    properties: { secretRef: { type: 'string' } },
    required: ['secretRef'],
    additionalProperties: false,
  };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://keelson.dev/schemas/desired-state.json',
    title: 'keelson desired state',
    $defs: { reference, secretRef },
    oneOf: schemas.map((s) => ({
      type: 'object',
      description: s.description,
      required: ['kind', 'name'],
      additionalProperties: false,
      properties: {
        apiVersion: { type: 'string' },
        kind: { const: s.kind },
        name: { type: 'string', pattern: '^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$' },
        description: { type: 'string' },
        policy: { enum: ['enforce', 'observe', 'paused'], default: 'enforce' },
        protect: { type: 'boolean', default: false },
        allowReplace: { type: 'boolean', default: false },
        adopt: { type: 'boolean', default: false },
        dependsOn: { type: 'array', items: { type: 'string' } },
        spec: objectSchema(s.spec),
      },
    })),
  };
}

function objectSchema(fields: Readonly<Record<string, Field>>): object {
  const writable = Object.entries(fields).filter(([, f]) => !f.computed);
  return {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(writable.map(([k, f]) => [k, fieldSchema(f)])),
    required: writable.filter(([, f]) => f.required).map(([k]) => k),
  };
}

function fieldSchema(field: Field): object {
  const meta = {
    ...(field.description ? { description: field.description } : {}),
    ...(field.default !== undefined ? { default: field.default } : {}),
  };
  const ref = { $ref: '#/$defs/reference' };
  switch (field.type) {
    case 'string':
      return withRef(
        {
          type: 'string',
          ...(field.enum ? { enum: field.enum } : {}),
          ...(field.pattern ? { pattern: field.pattern } : {}),
          ...meta,
        },
        field.sensitive ? [ref, { $ref: '#/$defs/secretRef' }] : [ref],
      );
    case 'integer':
    case 'number':
      return withRef(
        {
          type: field.type,
          ...(field.minimum !== undefined ? { minimum: field.minimum } : {}),
          ...(field.maximum !== undefined ? { maximum: field.maximum } : {}),
          ...meta,
        },
        [ref],
      );
    case 'boolean':
      return withRef({ type: 'boolean', ...meta }, [ref]);
    case 'array':
      return { type: 'array', items: fieldSchema(field.items), ...meta };
    case 'object':
      return { ...objectSchema(field.properties), ...meta };
    case 'map':
      return { type: 'object', additionalProperties: fieldSchema(field.values), ...meta };
    case 'secret':
      return { $ref: '#/$defs/secretRef', ...meta };
    case 'any':
      return { ...meta };
  }
}

function withRef(schema: object, alternatives: object[]): object {
  return { anyOf: [schema, ...alternatives] };
}
