import { Global, Module } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { GIT_PORT } from './application/git.port';
import { WORKSPACE_PORT } from './application/workspace.port';
import { GitCliAdapter } from './infrastructure/git-cli.adapter';
import { NodeWorkspaceAdapter } from './infrastructure/node-workspace.adapter';

/** Where workspaces may be (WORKSPACE_ROOTS), and git on them, for every context that runs agents. */
@Global()
@Module({
  providers: [
    {
      provide: WORKSPACE_PORT,
      inject: [AppConfig],
      useFactory: (config: AppConfig) =>
        new NodeWorkspaceAdapter({
          roots: config.workspaceRoots,
          dataDir: config.dataDir,
          orchestratorHome: config.orchestratorHome,
          worktreesDir: config.worktrees.directory,
        }),
    },
    { provide: GIT_PORT, useClass: GitCliAdapter },
  ],
  exports: [WORKSPACE_PORT, GIT_PORT],
})
export class WorkspaceModule {}
