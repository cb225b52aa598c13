/** What every view gets: the API client, the clock, live polling tied to the current page. */
import type { Api } from './api.ts';

export interface Ctx {
  api: Api;
  /** The local mode: one developer, the local token, no sign-in. */
  local: boolean;
  now(): number;
  /**
   * Calls `tick` now and then every `ms` while this page is shown (and the tab is
   * visible), one call at a time: at most one request per live resource per second.
   */
  live(tick: () => Promise<void>, ms?: number): void;
  /** Says something to screen readers and shows it in the status line. */
  announce(message: string, kind?: 'info' | 'error'): void;
  setTitle(title: string): void;
}

export type View = (ctx: Ctx, main: HTMLElement, params: string[]) => Promise<void>;

export const enc = encodeURIComponent;
