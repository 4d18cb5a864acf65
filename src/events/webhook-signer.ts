import { createHmac } from 'node:crypto';

/**
 * The Standard Webhooks 1.0 headers of one request: `webhook-id`, `webhook-timestamp` (Unix seconds) and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the secret's decoded bytes.
 * The id is the same on every attempt of a message, so receivers can drop repeats.
 */
export function signWebhook(
  key: Buffer,
  message: { id: string; timestampSeconds: number; body: string },
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const timestamp = String(message.timestampSeconds);
  const signature = createHmac('sha256', key).update(`${message.id}.${timestamp}.${message.body}`).digest('base64');
  return { 'webhook-id': message.id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}
