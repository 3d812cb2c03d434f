/** Groq's OpenAI-compatible chat API, asked for a summary of a long text. */
export interface SummarizerSettings {
  /** Default https://api.groq.com. */
  readonly baseUrl?: string;
  readonly apiKey: string;
  /** Default `llama-3.1-8b-instant`. */
  readonly model?: string;
  readonly timeoutMs: number;
}

export type Summary = { readonly summary: string } | { readonly rateLimitedSeconds: number };

export async function summarize(s: SummarizerSettings, heading: string, text: string): Promise<Summary> {
  const response = await fetch(
    `${(s.baseUrl ?? 'https://api.groq.com').replace(/\/$/, '')}/openai/v1/chat/completions`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${s.apiKey}` },
      body: JSON.stringify({
        model: s.model ?? 'llama-3.1-8b-instant',
        messages: [
          {
            role: 'system',
            content:
              'Summarise this for a company knowledge base in at most five sentences: who, what, decisions, numbers, dates.',
          },
          { role: 'user', content: `${heading}\n${text}` },
        ],
      }),
      signal: AbortSignal.timeout(s.timeoutMs),
    },
  );
  if (response.status === 429) {
    await response.arrayBuffer();
    return { rateLimitedSeconds: Number(response.headers.get('retry-after') ?? 60) };
  }
  if (!response.ok) throw new Error(`Groq answered ${response.status}`);
  const content = ((await response.json()) as { choices?: { message?: { content?: string } }[] }).choices?.[0]?.message
    ?.content;
  if (!content) throw new Error('Groq gave an empty summary');
  return { summary: content };
}
