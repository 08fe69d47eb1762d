/**
 * A miniature of the repository for layout.spec.ts: two well-behaved contexts (alpha, beta) and
 * shared libs (shared, http, observability) with the imports the rules allow, plus one file per
 * deliberate violation. Written to a temporary directory,
 * never compiled: the imports only have to resolve for dependency-cruiser.
 */
export const FIXTURE_FILES: Record<string, string> = {
  'package.json': JSON.stringify({
    name: 'layout-fixture',
    private: true,
    dependencies: { '@nestjs/common': '*', axios: '*', bullmq: '*', typeorm: '*' },
  }),
  'tsconfig.json': JSON.stringify({
    compilerOptions: {
      baseUrl: '.',
      paths: {
        '@app/alpha': ['libs/alpha/src'],
        '@app/alpha/testing': ['libs/alpha/src/testing'],
        '@app/alpha/domain/*': ['libs/alpha/src/domain/*'],
        '@app/beta': ['libs/beta/src'],
        '@app/gamma': ['libs/gamma/src'],
        '@app/delta': ['libs/delta/src'],
        '@app/shared': ['libs/shared/src'],
        '@app/http': ['libs/http/src'],
        '@app/observability': ['libs/observability/src'],
        '@app/testing': ['test/support'],
      },
    },
  }),

  // Allowed: every file below is imported the way the rules want.
  'libs/alpha/src/index.ts': [
    "export * from './domain/order';",
    "export * from './application/place-order';",
    "export * from './application/ports/orders.port';",
    "export * from './alpha.module';",
  ].join('\n'),
  'libs/alpha/src/alpha.module.ts': [
    "import { Module } from '@nestjs/common';",
    "import { TypeormOrders } from './infrastructure/typeorm-orders';",
    'export const ALPHA_MODULE = { Module, TypeormOrders };',
  ].join('\n'),
  // A domain file may use the kernel, which reaches no package.
  'libs/alpha/src/domain/order.ts': [
    "import { randomUUID } from 'node:crypto';",
    "import { DomainError } from '@app/shared';",
    "import { OrderStatus } from './order-status';",
    'export const newOrder = () => ({ id: randomUUID(), status: OrderStatus.Open, DomainError });',
  ].join('\n'),
  'libs/alpha/src/domain/order-status.ts': "export enum OrderStatus { Open = 'open' }",
  // A spec may use I/O and test support (which builds the app, so it must not make libs look cyclic).
  'libs/alpha/src/domain/order.spec.ts': [
    "import { readFileSync } from 'node:fs';",
    "import { makeWorkspace } from '@app/testing';",
    "import { newOrder } from './order';",
    'export const specUses = [readFileSync, makeWorkspace, newOrder];',
  ].join('\n'),
  'libs/alpha/src/application/ports/orders.port.ts': "export const ORDERS = Symbol('ORDERS');",
  'libs/alpha/src/application/place-order.ts': [
    "import { Injectable } from '@nestjs/common';",
    "import { join } from 'node:path';",
    "import { newOrder } from '../domain/order';",
    "import { ORDERS } from './ports/orders.port';",
    'export const PlaceOrder = { Injectable, join, newOrder, ORDERS };',
  ].join('\n'),
  'libs/alpha/src/infrastructure/typeorm-orders.ts': [
    "import { readFileSync } from 'node:fs';",
    "import { DataSource } from 'typeorm';",
    "import { Public } from '@app/http';",
    "import { ORDERS } from '../application/ports/orders.port';",
    'export const TypeormOrders = { readFileSync, DataSource, Public, ORDERS };',
  ].join('\n'),
  // Shared libs: the kernel (plain), the HTTP edge (Nest, on the kernel), observability (on both, knows no context).
  'libs/shared/src/index.ts': "export * from './domain-error';",
  'libs/shared/src/domain-error.ts': 'export abstract class DomainError extends Error {}',
  'libs/http/src/index.ts': [
    "import { SetMetadata } from '@nestjs/common';",
    "import { DomainError } from '@app/shared';",
    "export const Public = () => SetMetadata('public', true);",
    'export const errors = [DomainError];',
  ].join('\n'),
  'libs/observability/src/index.ts': [
    "import { DomainError } from '@app/shared';",
    "import { Public } from '@app/http';",
    'export const Metrics = { DomainError, Public };',
  ].join('\n'),
  'libs/alpha/src/testing/index.ts': "export * from './in-memory-orders';",
  'libs/alpha/src/testing/in-memory-orders.ts': [
    "import { ORDERS } from '../application/ports/orders.port';",
    'export const InMemoryOrders = { ORDERS };',
  ].join('\n'),
  'libs/beta/src/index.ts': "export * from './beta.service';",
  'libs/beta/src/beta.service.ts': [
    "import { newOrder } from '@app/alpha';",
    'export const BetaService = { newOrder };',
  ].join('\n'),
  'libs/beta/src/beta.int-spec.ts': [
    "import { newOrder } from '@app/alpha';",
    "import { InMemoryOrders } from '@app/alpha/testing';",
    "import { makeWorkspace } from '@app/testing';",
    "import { BetaService } from './beta.service';",
    'export const specUses = [newOrder, InMemoryOrders, makeWorkspace, BetaService];',
  ].join('\n'),
  'apps/api/src/app.module.ts': [
    "import { ALPHA_MODULE } from '@app/alpha';",
    "import { BetaService } from '@app/beta';",
    'export const AppModule = { ALPHA_MODULE, BetaService };',
  ].join('\n'),
  'apps/api/test/orders.e2e-spec.ts': [
    "import { InMemoryOrders } from '@app/alpha/testing';",
    "import { makeWorkspace } from '@app/testing';",
    "import { AppModule } from '../src/app.module';",
    'export const specUses = [InMemoryOrders, makeWorkspace, AppModule];',
  ].join('\n'),
  'test/support/index.ts': [
    "import { AppModule } from '../../apps/api/src/app.module';",
    'export const makeWorkspace = () => AppModule;',
  ].join('\n'),
  'migrations/1700000000000-create-orders.ts': "export const up = 'CREATE TABLE orders (id uuid PRIMARY KEY)';",
  'migrations/data-source.ts': [
    "import { ALPHA_MODULE } from '@app/alpha';",
    "import * as first from './1700000000000-create-orders';",
    'export const dataSource = { ALPHA_MODULE, migrations: [first] };',
  ].join('\n'),
  'infrastructure/monitoring/dashboard.ts': "import { OrderStatus } from '@app/alpha';\nexport const panels = [OrderStatus];",
  'bench/orders.bench.ts': [
    "import { PlaceOrder } from '@app/alpha';",
    "import { InMemoryOrders } from '@app/alpha/testing';",
    'export const benchUses = [PlaceOrder, InMemoryOrders];',
  ].join('\n'),

  // Violations: one file per broken rule.
  'libs/alpha/src/domain/uses-framework.ts': "import { Injectable } from '@nestjs/common';\nexport const x = Injectable;",
  'libs/alpha/src/domain/uses-fs.ts': "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;",
  'libs/alpha/src/domain/reaches-framework.ts': "import { Public } from '@app/http';\nexport const x = Public;",
  'libs/alpha/src/domain/knows-use-case.ts': "import { PlaceOrder } from '../application/place-order';\nexport const x = PlaceOrder;",
  'libs/alpha/src/domain/cycle-a.ts': "import { b } from './cycle-b';\nexport const a = () => b;",
  'libs/alpha/src/domain/cycle-b.ts': "import { a } from './cycle-a';\nexport const b = () => a;",
  'libs/alpha/src/application/reads-files.ts': "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;",
  'libs/alpha/src/application/queries-db.ts': "import { DataSource } from 'typeorm';\nexport const x = DataSource;",
  // bullmq resolves into its package's dist/: only the repository's own build output is excluded.
  'libs/alpha/src/application/queues-jobs.ts': "import { Queue } from 'bullmq';\nexport const x = Queue;",
  'libs/alpha/src/application/uses-adapter.ts': "import { TypeormOrders } from '../infrastructure/typeorm-orders';\nexport const x = TypeormOrders;",
  'libs/beta/src/reaches-by-path.ts': "import { OrderStatus } from '../../alpha/src/domain/order-status';\nexport const x = OrderStatus;",
  'libs/beta/src/reaches-by-alias.ts': "import { OrderStatus } from '@app/alpha/domain/order-status';\nexport const x = OrderStatus;",
  'libs/beta/src/ships-a-fake.ts': "import { InMemoryOrders } from '@app/alpha/testing';\nexport const x = InMemoryOrders;",
  'libs/beta/src/knows-the-app.ts': "import { AppModule } from '../../../apps/api/src/app.module';\nexport const x = AppModule;",
  'libs/observability/src/knows-a-context.ts': "import { newOrder } from '@app/alpha';\nexport const x = newOrder;",
  'libs/beta/src/typo.ts': "import { newOrder } from '@app/alhpa';\nexport const x = newOrder;",
  'apps/api/src/reaches-into-alpha.ts': "import { PlaceOrder } from '../../../libs/alpha/src/application/place-order';\nexport const x = PlaceOrder;",
  'test/support/reaches-into-alpha.ts': "import { OrderStatus } from '../../libs/alpha/src/domain/order-status';\nexport const x = OrderStatus;",
  'apps/api/src/uses-test-support.ts': "import { makeWorkspace } from '../../../test/support';\nexport const x = makeWorkspace;",
  'migrations/1700000000001-seed-orders.ts': "import { newOrder } from '@app/alpha';\nexport const seed = newOrder();",
  // gamma and delta import each other's entries from different files: no file cycle, a lib cycle.
  'libs/gamma/src/index.ts': "export const GAMMA = 'gamma';",
  'libs/gamma/src/uses-delta.ts': "import { DELTA } from '@app/delta';\nexport const x = DELTA;",
  'libs/delta/src/index.ts': "export const DELTA = 'delta';",
  'libs/delta/src/extra/uses-gamma.ts': "import { GAMMA } from '@app/gamma';\nexport const x = GAMMA;",
};

/** What dependency-cruiser must report on the fixture: rule, from, to. Nothing else. */
export const EXPECTED_VIOLATIONS: ReadonlyArray<readonly [rule: string, from: string, to: string]> = [
  ['domain-pure', 'libs/alpha/src/domain/uses-framework.ts', '@nestjs/common'],
  ['domain-pure', 'libs/alpha/src/domain/uses-fs.ts', 'fs'],
  ['domain-reaches-no-framework', 'libs/alpha/src/domain/reaches-framework.ts', '@nestjs/common'],
  // A direct import is reached too, and so is what a forbidden import brings along.
  ['domain-reaches-no-framework', 'libs/alpha/src/domain/uses-framework.ts', '@nestjs/common'],
  ['domain-reaches-no-framework', 'libs/alpha/src/domain/uses-fs.ts', 'fs'],
  ['domain-reaches-no-framework', 'libs/alpha/src/domain/knows-use-case.ts', '@nestjs/common'],
  ['domain-inward', 'libs/alpha/src/domain/knows-use-case.ts', 'libs/alpha/src/application/place-order.ts'],
  ['application-no-io', 'libs/alpha/src/application/reads-files.ts', 'fs'],
  ['application-no-io', 'libs/alpha/src/application/queries-db.ts', 'typeorm'],
  ['application-no-io', 'libs/alpha/src/application/queues-jobs.ts', 'bullmq'],
  ['application-no-adapters', 'libs/alpha/src/application/uses-adapter.ts', 'libs/alpha/src/infrastructure/typeorm-orders.ts'],
  ['lib-entry-only', 'libs/beta/src/reaches-by-path.ts', 'libs/alpha/src/domain/order-status.ts'],
  ['lib-entry-only', 'libs/beta/src/reaches-by-alias.ts', 'libs/alpha/src/domain/order-status.ts'],
  ['entry-only-from-outside-libs', 'apps/api/src/reaches-into-alpha.ts', 'libs/alpha/src/application/place-order.ts'],
  ['entry-only-from-outside-libs', 'test/support/reaches-into-alpha.ts', 'libs/alpha/src/domain/order-status.ts'],
  ['shared-libs-know-no-context', 'libs/observability/src/knows-a-context.ts', 'libs/alpha/src/index.ts'],
  ['no-test-code-in-production', 'libs/beta/src/ships-a-fake.ts', 'libs/alpha/src/testing/index.ts'],
  ['no-test-code-in-production', 'apps/api/src/uses-test-support.ts', 'test/support/index.ts'],
  ['lib-not-to-outer-layers', 'libs/beta/src/knows-the-app.ts', 'apps/api/src/app.module.ts'],
  ['migration-frozen', 'migrations/1700000000001-seed-orders.ts', 'libs/alpha/src/index.ts'],
  ['no-circular', 'libs/alpha/src/domain/cycle-a.ts', 'libs/alpha/src/domain/cycle-b.ts'],
  ['no-circular-libs', 'libs/gamma/src', 'libs/delta/src'],
  ['no-circular-libs', 'libs/delta/src', 'libs/gamma/src'],
  ['not-to-unresolvable', 'libs/beta/src/typo.ts', '@app/alhpa'],
];
