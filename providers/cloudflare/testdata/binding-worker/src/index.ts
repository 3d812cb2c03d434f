/** A Worker for the binding tests: stores the request body in its R2 bucket and asks another Worker through a service binding. */
interface R2Like {
  put(key: string, value: string): Promise<unknown>;
  get(key: string): Promise<{ text(): Promise<string> } | null>;
}
interface Env {
  readonly BUCKET: R2Like;
  readonly HELLO: { fetch(request: Request | string): Promise<Response> };
  readonly MODE: string;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const key = new URL(request.url).pathname.slice(1) || 'root';
    if (request.method === 'PUT') await env.BUCKET.put(key, await request.text());
    const stored = await env.BUCKET.get(key);
    const hello = (await (await env.HELLO.fetch('https://internal/hello')).json()) as { greeting: string };
    return Response.json({ mode: env.MODE, stored: stored ? await stored.text() : null, hello: hello.greeting });
  },
};
