import { AppConfig } from '@app/config';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source';

/** For the TypeORM CLI: `npx typeorm -d dist/migrations/cli-data-source.js migration:show`. */
export default new DataSource(dataSourceOptions(AppConfig.fromEnvironment()));
