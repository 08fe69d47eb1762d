import { Global, Module } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { WORKSPACE_PORT } from './application/workspace.port';
import { NodeWorkspaceAdapter } from './infrastructure/node-workspace.adapter';

/** Where workspaces may be (WORKSPACE_ROOTS), for every context that runs agents. */
@Global()
@Module({
  providers: [
    {
      provide: WORKSPACE_PORT,
      inject: [AppConfig],
      useFactory: (config: AppConfig) =>
        new NodeWorkspaceAdapter({ roots: config.workspaceRoots, dataDir: config.dataDir, orchestratorHome: config.orchestratorHome }),
    },
  ],
  exports: [WORKSPACE_PORT],
})
export class WorkspaceModule {}
