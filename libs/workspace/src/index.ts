export { WorkspaceModule } from './workspace.module';
export { WORKSPACE_PORT } from './application/workspace.port';
export type { WorkspacePort } from './application/workspace.port';
export { WorkspaceError, WorkspaceErrorCode } from './domain/workspace.errors';
