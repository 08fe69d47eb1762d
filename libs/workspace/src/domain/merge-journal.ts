import { isSafeRef } from './git-refs';

/**
 * Written before a merge moves its target branch and removed once it moved: after a crash, what
 * recovery needs to tell a move that never happened from one that did, and which worktree's
 * files the move was writing.
 */
export interface MergeJournal {
  target: string;
  previous: string;
  next: string;
  /** The worktree `target` was checked out in (files moved with the branch), or null. */
  worktree: string | null;
  /** ISO time the move started. */
  at: string;
}

const COMMIT_ID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/**
 * The journal in `text`, or null when it is not one a merge wrote. The file sits in the git
 * directory models can write, so every field is checked before recovery acts on it.
 */
export function parseMergeJournal(text: string): MergeJournal | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { target, previous, next, worktree, at } = value as Record<string, unknown>;
  if (typeof target !== 'string' || !isSafeRef(target)) return null;
  if (typeof previous !== 'string' || !COMMIT_ID.test(previous) || typeof next !== 'string' || !COMMIT_ID.test(next)) return null;
  if (worktree !== null && (typeof worktree !== 'string' || !worktree.startsWith('/'))) return null;
  if (typeof at !== 'string') return null;
  return { target, previous, next, worktree, at };
}
