/**
 * Chat webhooks. The pipeline's `secret` names a secret whose value is the webhook
 * URL, or JSON `{ "url": "...", "signingSecret": "..." }` (DingTalk robots with
 * "additional signature" security put their SEC... secret in `signingSecret`).
 *
 * - slack: Slack-compatible JSON `{ text, blocks }` (Mattermost, Rocket.Chat and
 *   others accept the same); `text` is the fallback for notifications.
 * - dingtalk: a robot webhook, `msgtype: markdown`. Signed robots get
 *   `&timestamp=<ms>&sign=<urlencoded base64(HMAC-SHA256(secret, "<ms>\n<secret>"))>`.
 *   DingTalk answers HTTP 200 even when it refuses; `errcode` says what happened.
 * - teams: an Adaptive Card in a `message` attachment. Microsoft retires the Office 365
 *   connectors that took MessageCards; the Workflows ("Post to a channel when a webhook
 *   request is received") webhooks that replace them take Adaptive Cards, and so did the
 *   old connectors, so one payload serves both.
 *
 * Every title and line may carry text from a git host (branch names, commit messages,
 * author names, pull-request titles) and is escaped for the format it goes into; only
 * the run's own link is put in as markup. Each is first put on one line, so a newline
 * cannot start a heading or a list item of its own.
 * - Slack mrkdwn: `&`, `<` and `>` as entities, Slack's documented escapes; no `<url|text>`
 *   link or `<!channel>` mention can be written with them.
 * - Teams: the text goes into `RichTextBlock` / `TextRun` elements, which Adaptive Cards
 *   render as plain text (a `TextBlock` would render `[text](url)` as a link).
 * - DingTalk markdown has no documented escape character, so the characters markdown and
 *   HTML use for links, images, emphasis, code and tags are replaced by their full-width
 *   look-alikes (`[` -> `［`, `(` -> `（`, `<` -> `＜`, ...): readable, and inert.
 * A bare URL in a commit message may still be linked by the chat client itself; it shows
 * where it goes, unlike a link whose text the attacker chose.
 */
import { createHmac } from 'node:crypto';
import type { SecretSource } from '../ports/index.ts';
import { DeliveryError, postJson, readSecret, type HttpOptions } from './http.ts';
import type { NotificationText } from './text.ts';

export type ChatKind = 'slack' | 'teams' | 'dingtalk';

export interface ChatWebhook {
  url: string;
  signingSecret?: string;
}

export interface ChatOptions extends HttpOptions {
  secrets: SecretSource;
  /** Milliseconds since the epoch, for DingTalk's signature. @default Date.now */
  clock?: () => number;
}

/** Reads the webhook from the secret's value; a value that is no http(s) URL is a permanent failure. */
export function parseWebhookSecret(value: string, secretName: string): ChatWebhook {
  const trimmed = value.trim();
  let url: unknown = trimmed;
  let signingSecret: unknown;
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as Record<string, unknown>;
      url = parsed.url;
      signingSecret = parsed.signingSecret;
    } catch {
      throw new DeliveryError(`secret "${secretName}" is neither a URL nor JSON {"url": ...}`, true);
    }
  }
  if (typeof url !== 'string' || !/^https?:\/\/[^\s]+$/.test(url)) throw new DeliveryError(`secret "${secretName}" holds no http(s) webhook URL`, true);
  if (signingSecret !== undefined && typeof signingSecret !== 'string') throw new DeliveryError(`secret "${secretName}": signingSecret must be a string`, true);
  return { url, ...(signingSecret ? { signingSecret } : {}) };
}

export async function postChat(kind: ChatKind, secretName: string, text: NotificationText, opts: ChatOptions): Promise<void> {
  const webhook = parseWebhookSecret(await readSecret(opts.secrets, secretName), secretName);
  const what = `${kind} webhook (secret "${secretName}")`;
  switch (kind) {
    case 'slack':
      await postJson(webhook.url, slackPayload(text), {}, what, opts);
      return;
    case 'teams':
      await postJson(webhook.url, teamsPayload(text), {}, what, opts);
      return;
    case 'dingtalk': {
      const url = webhook.signingSecret ? signDingTalkUrl(webhook.url, webhook.signingSecret, (opts.clock ?? Date.now)()) : webhook.url;
      const answer = await postJson(url, dingTalkPayload(text), {}, what, opts);
      checkDingTalkAnswer(answer.text, what);
      return;
    }
  }
}

export function slackPayload(t: NotificationText): { text: string; blocks: unknown[] } {
  const emoji = t.tone === 'good' ? ':white_check_mark:' : t.tone === 'bad' ? ':x:' : ':hourglass_flowing_sand:';
  const title = `${emoji} ${slackEscape(t.title)}`;
  // t.url is the run's link, built by Slipway from its own configuration; everything else is escaped.
  return {
    text: t.url ? `${title} <${t.url}|open the run>` : title,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${title}*` } },
      { type: 'section', text: { type: 'mrkdwn', text: t.lines.map(slackEscape).join('\n') } },
      ...(t.url ? [{ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open the run' }, url: t.url }] }] : []),
    ],
  };
}

export function teamsPayload(t: NotificationText): unknown {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          // RichTextBlock/TextRun: plain text, never markdown (see the top of this file).
          body: [
            {
              type: 'RichTextBlock',
              inlines: [{ type: 'TextRun', text: oneLine(t.title), weight: 'Bolder', size: 'Medium', color: t.tone === 'good' ? 'Good' : t.tone === 'bad' ? 'Attention' : 'Warning' }],
            },
            ...t.lines.map((line) => ({ type: 'RichTextBlock', inlines: [{ type: 'TextRun', text: oneLine(line) }], spacing: 'Small' })),
          ],
          ...(t.url ? { actions: [{ type: 'Action.OpenUrl', title: 'Open the run', url: t.url }] } : {}),
        },
      },
    ],
  };
}

export function dingTalkPayload(t: NotificationText): { msgtype: 'markdown'; markdown: { title: string; text: string } } {
  const title = dingTalkEscape(t.title);
  const text = [`### ${title}`, ...t.lines.map((l) => `- ${dingTalkEscape(l)}`), ...(t.url ? [`[Open the run](${t.url})`] : [])].join('\n\n');
  return { msgtype: 'markdown', markdown: { title, text } };
}

/** The robot URL with DingTalk's signature parameters appended. */
export function signDingTalkUrl(url: string, secret: string, timestampMs: number): string {
  const sign = createHmac('sha256', secret).update(`${timestampMs}\n${secret}`).digest('base64');
  return `${url}${url.includes('?') ? '&' : '?'}timestamp=${timestampMs}&sign=${encodeURIComponent(sign)}`;
}

/** errcode 0 is delivered; 130101 ("sending too fast") is worth a retry; anything else is refused for good. */
function checkDingTalkAnswer(text: string, what: string): void {
  let answer: { errcode?: unknown; errmsg?: unknown };
  try {
    answer = JSON.parse(text) as typeof answer;
  } catch {
    return; // A 2xx without JSON: nothing says it failed.
  }
  if (answer.errcode === undefined || answer.errcode === 0) return;
  const said = `errcode ${String(answer.errcode)}${typeof answer.errmsg === 'string' ? ` (${answer.errmsg.slice(0, 200)})` : ''}`;
  if (answer.errcode === 130101) throw new DeliveryError(`${what}: rate limited, ${said}`, false);
  throw new DeliveryError(`${what} refused the message: ${said}`, true);
}

/** Control characters and line breaks (untrusted text may carry any) become one space. */
function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f\u0085\u2028\u2029]+/g, ' ');
}

export function slackEscape(text: string): string {
  return oneLine(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const DINGTALK_LOOKALIKES: Record<string, string> = {
  '[': '［', ']': '］', '(': '（', ')': '）', '<': '＜', '>': '＞', '*': '＊', '_': '＿',
  '`': '｀', '~': '～', '\\': '＼', '&': '＆',
};

export function dingTalkEscape(text: string): string {
  return oneLine(text).replace(/[[\]()<>*_`~\\&]/g, (c) => DINGTALK_LOOKALIKES[c]);
}
