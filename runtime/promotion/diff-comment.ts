/**
 * The pull-request comment that shows `cdk diff` / `cdktf diff` output. GitHub
 * rejects comments over 65,536 characters, so long sections are cut with a note.
 */

/** Marks the comment so CI can find and update its own earlier comment. */
export const DIFF_COMMENT_MARKER = '<!-- mlstack-infra-diff -->';
export const MAX_COMMENT_CHARS = 65_000;

export interface DiffSection {
  title: string;
  text: string;
}

/** Removes terminal colour codes that cdk and terraform print. */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
}

export function formatDiffComment(
  heading: string,
  sections: readonly DiffSection[],
  maxChars: number = MAX_COMMENT_CHARS,
): string {
  const head = `${DIFF_COMMENT_MARKER}\n### ${heading}\n`;
  const frame = (title: string, body: string) => `\n<details open><summary>${title}</summary>\n\n\`\`\`diff\n${body}\n\`\`\`\n</details>\n`;
  const overhead = head.length + sections.reduce((n, s) => n + frame(s.title, '').length + 80, 0);
  const perSection = Math.max(200, Math.floor((maxChars - overhead) / Math.max(1, sections.length)));
  const parts = sections.map((section) => {
    let body = stripAnsi(section.text).trimEnd().replace(/```/g, "'''");
    if (body === '') body = '(no output)';
    if (body.length > perSection) {
      const cut = body.length - perSection;
      body = `${body.slice(0, perSection)}\n... ${cut} more characters cut: see the workflow run's log for the full diff`;
    }
    return frame(section.title, body);
  });
  return head + parts.join('');
}
