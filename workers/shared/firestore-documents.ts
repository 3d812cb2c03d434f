import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { importSPKI, jwtVerify } from 'jose';
import { documentSize, type FirestoreValue, MAX_DOCUMENT_BYTES } from './firestore-rest.ts';

/**
 * A loopback stand-in for Firestore's REST documents endpoint, for the Workers' tests and the
 * flows until the GCP simulator's data plane is wired in: it keeps documents, answers like
 * Firestore (`PATCH` upsert, `POST ?documentId=` create with 409 ALREADY_EXISTS, `GET`, `DELETE`,
 * google.rpc error bodies), refuses what Firestore refuses (an array directly inside an array, a
 * document over 1 MiB), verifies the bearer JWT when given the service account's public key, and
 * tells listeners about every write (the flows build Firestore trigger events from them).
 */
export interface StoredDocument {
  readonly name: string;
  readonly fields: Record<string, FirestoreValue>;
  readonly createTime: string;
  readonly updateTime: string;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
}

export type WriteListener = (before: StoredDocument | undefined, after: StoredDocument | undefined) => void;

export interface FirestoreDocuments {
  readonly url: string;
  readonly projectId: string;
  /** Documents by path below `documents/` (`aircall-events/x`). */
  readonly documents: Map<string, StoredDocument>;
  readonly requests: RecordedRequest[];
  /** While set, every request answers this status (503: Firestore unavailable). */
  failWith: number | undefined;
  onWrite(listener: WriteListener): void;
  close(): Promise<void>;
}

const STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  503: 'UNAVAILABLE',
};
const error = (code: number, message: string) => ({ error: { code, message, status: STATUS[code] ?? 'UNKNOWN' } });

function nestedArray(value: FirestoreValue, insideArray: boolean): boolean {
  if ('arrayValue' in value) return insideArray || (value.arrayValue.values ?? []).some((v) => nestedArray(v, true));
  if ('mapValue' in value) return Object.values(value.mapValue.fields ?? {}).some((v) => nestedArray(v, false));
  return false;
}

export async function startFirestoreDocuments(
  options: { projectId?: string; publicKeyPem?: string } = {},
): Promise<FirestoreDocuments> {
  const projectId = options.projectId ?? 'demo-project';
  const documents = new Map<string, StoredDocument>();
  const requests: RecordedRequest[] = [];
  const listeners: WriteListener[] = [];
  const key = options.publicKeyPem ? await importSPKI(options.publicKeyPem, 'RS256') : undefined;
  const self = { failWith: undefined as number | undefined };
  const prefix = `/v1/projects/${projectId}/databases/(default)/documents/`;

  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(url.pathname);
    requests.push({ method: req.method ?? '', path, authorization: req.headers.authorization });
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (self.failWith !== undefined) return answer(self.failWith, error(self.failWith, 'injected failure'));
    if (key) {
      const token = req.headers.authorization?.replace(/^Bearer /, '') ?? '';
      try {
        await jwtVerify(token, key, { audience: 'https://firestore.googleapis.com/' });
      } catch (e) {
        return answer(401, error(401, `Request had invalid authentication credentials: ${(e as Error).message}`));
      }
    }
    if (!path.startsWith(prefix)) return answer(404, error(404, `no route ${path}`));
    const docPath = path.slice(prefix.length);
    const name = `projects/${projectId}/databases/(default)/documents/${docPath}`;
    const write = (target: string, fields: Record<string, FirestoreValue>) => {
      for (const v of Object.values(fields))
        if (nestedArray(v, false))
          return answer(400, error(400, 'Cannot have an array value directly inside another array.'));
      const size = documentSize(target, fields);
      if (size > MAX_DOCUMENT_BYTES)
        return answer(
          400,
          error(
            400,
            `Document cannot be written because its size (${size} bytes) exceeds the maximum allowed size of 1,048,576 bytes.`,
          ),
        );
      const before = documents.get(target);
      const now = new Date().toISOString();
      const doc = {
        name: `projects/${projectId}/databases/(default)/documents/${target}`,
        fields,
        createTime: before?.createTime ?? now,
        updateTime: now,
      };
      documents.set(target, doc);
      answer(200, doc);
      for (const l of listeners) l(before, doc);
    };
    const body = text ? (JSON.parse(text) as { fields?: Record<string, FirestoreValue> }) : {};
    switch (req.method) {
      case 'GET': {
        const doc = documents.get(docPath);
        return doc ? answer(200, doc) : answer(404, error(404, `Document "${name}" not found.`));
      }
      case 'PATCH': {
        const exists = url.searchParams.get('currentDocument.exists');
        if (exists === 'false' && documents.has(docPath))
          return answer(409, error(409, `Document already exists: ${name}`));
        if (exists === 'true' && !documents.has(docPath))
          return answer(404, error(404, `No document to update: ${name}`));
        return write(docPath, body.fields ?? {});
      }
      case 'POST': {
        const id = url.searchParams.get('documentId');
        if (!id) return answer(400, error(400, 'the stand-in needs documentId'));
        const target = `${docPath}/${id}`;
        if (documents.has(target)) return answer(409, error(409, `Document already exists: ${name}/${id}`));
        return write(target, body.fields ?? {});
      }
      case 'DELETE': {
        const before = documents.get(docPath);
        documents.delete(docPath);
        answer(200, {});
        if (before) for (const l of listeners) l(before, undefined);
        return;
      }
      default:
        return answer(400, error(400, `method ${req.method}`));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(self, {
    url: `http://127.0.0.1:${port}`,
    projectId,
    documents,
    requests,
    onWrite: (l: WriteListener) => void listeners.push(l),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** A generated service account key (RSA 2048) and its public key, for tests. */
export async function testServiceAccount(): Promise<{ keyJson: string; publicKeyPem: string }> {
  const { generateKeyPairSync } = await import('node:crypto');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    keyJson: JSON.stringify({
      type: 'service_account',
      project_id: 'demo-project',
      private_key_id: 'test-key-1',
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: 'workers@demo-project.iam.gserviceaccount.com',
      token_uri: 'https://oauth2.googleapis.com/token',
    }),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
