/** A tiny Worker for the handler tests: answers with its name, a var and whether a secret is set. */
interface Env {
  readonly GREETING?: string;
  readonly API_KEY?: string;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    return Response.json({ greeting: env.GREETING ?? 'hello', path: url.pathname, hasKey: Boolean(env.API_KEY) });
  },
  async scheduled(): Promise<void> {},
};
