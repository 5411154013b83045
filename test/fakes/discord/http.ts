/** Request bodies as the fake records them: JSON, or multipart with payload_json and files[n]. */

export interface RecordedFile {
  field: string;
  filename: string;
  contentType: string;
  data: Buffer;
  /** From payload_json.attachments (alt text). */
  description?: string;
}

export interface RecordedRequest {
  method: string;
  /** Path after /api/v10, decoded (`@original`, not `%40original`). */
  path: string;
  query: URLSearchParams;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies are whatever the client sent.
  json?: any;
  files: RecordedFile[];
  status: number;
}

export async function parseBody(contentType: string, body: Buffer, into: RecordedRequest): Promise<void> {
  if (!body.length) return;
  if (contentType.startsWith('application/json')) {
    into.json = JSON.parse(body.toString('utf8'));
    return;
  }
  if (!contentType.startsWith('multipart/form-data')) return;
  const form = await new Request('http://fake/', {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  }).formData();
  const payload = form.get('payload_json');
  into.json = typeof payload === 'string' ? JSON.parse(payload) : {};
  const described = (into.json.attachments ?? []) as { id: string | number; description?: string }[];
  for (const [field, value] of form.entries()) {
    if (typeof value === 'string') continue;
    const index = /^files\[(\d+)\]$/.exec(field)?.[1];
    const meta = described.find((a) => String(a.id) === index);
    into.files.push({
      field,
      filename: value.name,
      contentType: value.type,
      data: Buffer.from(await value.arrayBuffer()),
      description: meta?.description,
    });
  }
}
