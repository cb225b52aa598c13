/**
 * Issue 14, finding 5: text from a git host (commit messages, author names, branch and
 * pull-request names, job names from a repository definition) must not become markup in a
 * chat message. Each format gets the same hostile strings; only the run's own link may
 * be a link.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dingTalkPayload, slackPayload, teamsPayload } from '../../shared/notify/chat.ts';
import { notificationText } from '../../shared/notify/text.ts';
import { notificationMessage } from '../support/notify-fixtures.ts';

const EVIL = 'https://evil.example/approve';
const HOSTILE = [
  `**[Approve release here](${EVIL})**`,
  `<${EVIL}|Approve release here> <!channel> <@U123>`,
  `![pixel](${EVIL}.png) <a href="${EVIL}">Approve</a> &lt;b&gt;`,
  `fine\n\n### [Approve here](${EVIL})\n- [x](${EVIL})`,
  `\`code\` _it_ ~strike~ \\[esc\\](${EVIL})`,
];
const OURS = 'https://api.example.com/runs/R1';

/** A message where every field a git host controls is hostile. */
function hostileText(i: number) {
  const h = HOSTILE[i];
  return notificationText(
    notificationMessage({
      kind: 'approval_needed',
      job: h,
      reason: h,
      trigger: { event: 'pull_request', provider: 'github', repository: 'acme/web', branch: h, pullRequest: 7, commit: 'a'.repeat(40), message: `${h}\nsecond line`, author: h },
    }),
    'approval_needed',
    'https://api.example.com',
  );
}

/** `[text](url)` links in markdown, and `<url|text>` / `<!...>` in Slack mrkdwn. */
const MARKDOWN_LINK = /\[[^\]\n]*\]\s*\(([^)\n]*)\)/g;
const HTML_TAG = /<\/?[a-z][^>]*>/i;

for (let i = 0; i < HOSTILE.length; i++) {
  test(`Slack mrkdwn: hostile text #${i + 1} makes no link and no mention; only the run's link is one`, () => {
    const p = slackPayload(hostileText(i));
    const texts = [p.text, ...p.blocks.flatMap((b) => { const t = (b as { text?: { text?: string } }).text?.text; return t ? [t] : []; })];
    for (const t of texts) {
      const angles = [...t.matchAll(/<([^>]*)>/g)].map((m) => m[1]);
      assert.deepEqual(angles.filter((a) => a !== `${OURS}|open the run`), [], `only the run's link in: ${t}`);
      assert.ok(!t.includes('\n\n###'), 'no new paragraph from a commit message');
    }
    assert.ok(texts.join(' ').includes('evil.example'), 'the text is shown, escaped, not dropped');
  });

  test(`Teams Adaptive Card: hostile text #${i + 1} is shown as plain text (TextRun), never as markdown`, () => {
    const card = (teamsPayload(hostileText(i)) as { attachments: Array<{ content: { body: any[]; actions?: any[] } }> }).attachments[0].content;
    for (const el of card.body) {
      assert.equal(el.type, 'RichTextBlock', 'no TextBlock: TextBlock renders markdown links');
      for (const run of el.inlines) {
        assert.equal(run.type, 'TextRun');
        assert.ok(!run.text.includes('\n'), 'one line');
      }
    }
    assert.ok(JSON.stringify(card.body).includes('evil.example'), 'the text is shown, not dropped');
    assert.deepEqual(card.actions?.map((a) => a.url), [OURS], 'the only action is the run');
  });

  test(`DingTalk markdown: hostile text #${i + 1} makes no link, image, tag or heading; only the run's link is one`, () => {
    const { markdown } = dingTalkPayload(hostileText(i));
    const links = [...markdown.text.matchAll(MARKDOWN_LINK)].map((m) => m[1]);
    assert.deepEqual(links, [OURS]);
    assert.ok(!HTML_TAG.test(markdown.text), markdown.text);
    assert.ok(!/\*\*|`|~/.test(markdown.text), 'no emphasis or code markers from the attacker');
    assert.equal(markdown.text.split('\n\n').filter((l) => l.startsWith('#')).length, 1, 'one heading: ours');
    assert.ok(markdown.text.split('\n\n').slice(1, -1).every((l) => l.startsWith('- ')), 'every other paragraph is one of our list items');
    assert.ok(!HTML_TAG.test(markdown.title) && !MARKDOWN_LINK.test(markdown.title), markdown.title);
    assert.ok(markdown.text.includes('evil.example'), 'the text is shown, not dropped');
  });
}

test('escaping keeps ordinary text readable', () => {
  const t = notificationText(notificationMessage({ trigger: { event: 'push', provider: 'github', repository: 'acme/web', branch: 'feature/login', commit: 'b'.repeat(40), message: 'fix(api): a & b < c', author: 'Ada Lovelace' } }), 'run_failed');
  assert.match(slackPayload(t).blocks.map((b) => JSON.stringify(b)).join(''), /fix\(api\): a &amp; b &lt; c \(Ada Lovelace\)/);
  assert.match(dingTalkPayload(t).markdown.text, /fix（api）: a ＆ b ＜ c （Ada Lovelace）/);
});
