import type { Metrics } from '../metrics';

/** Every sample of a scrape, by its name and labels as written (`name{label="v"}`), for tests. */
export async function scrapeSamples(metrics: Metrics): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await metrics.scrape()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}
