import { Controller, Get, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Metrics } from '@app/observability';
import { Public } from '@app/http';
import type { Response } from 'express';

/**
 * GET /metrics: every metric of this process (and of its worker with --with-worker) in the
 * Prometheus text format. Public (no key), for scrapers: keep the port off the internet, or put a
 * proxy in front of it.
 */
@Public()
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  @Get()
  async scrape(@Res() res: Response): Promise<void> {
    const body = await this.metrics.scrape();
    // res.end, not res.send: Express would rewrite prom-client's content type.
    res.setHeader('Content-Type', this.metrics.contentType);
    res.end(body);
  }
}
