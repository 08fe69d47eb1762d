import { removeTempWorkspaces } from './temp-workspace';

/** Loaded before every unit spec (jest `setupFilesAfterEnv`): the file's temporary workspaces go when it ends. */
afterAll(() => removeTempWorkspaces());
