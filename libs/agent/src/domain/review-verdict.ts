/**
 * The Reviewer's fixed answer format (its system instructions ask for it):
 *   VERDICT: APPROVE | REQUEST_CHANGES
 *   QUALITY: <0-10>/10
 * followed by its findings. The quality score feeds the performance figures.
 */
export interface ReviewVerdict {
  verdict: 'APPROVE' | 'REQUEST_CHANGES';
  quality: number;
}

const VERDICT = /^\s*VERDICT:\s*(APPROVE|REQUEST_CHANGES)\b/im;
const QUALITY = /^\s*QUALITY:\s*(10(?:\.0+)?|\d(?:\.\d+)?)\s*\/\s*10\b/im;

export function parseReviewVerdict(text: string | null | undefined): ReviewVerdict | null {
  if (!text) return null;
  const verdict = VERDICT.exec(text);
  const quality = QUALITY.exec(text);
  if (!verdict || !quality) return null;
  return { verdict: verdict[1].toUpperCase() as ReviewVerdict['verdict'], quality: Number(quality[1]) };
}
