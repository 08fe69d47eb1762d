import { OutageClassifier } from '@app/platform';
import type { DatabaseAvailabilityPort } from '../../application/ports/database-availability.port';

/** The database is unavailable when the platform's classifier says the error is a PostgreSQL outage. */
export function databaseAvailabilityAdapter(outages: OutageClassifier): DatabaseAvailabilityPort {
  return { isUnavailable: (err) => outages.outageOf(err) === 'database' };
}
