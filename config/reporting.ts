/**
 * The reporting workflow's start input for a practice, from configuration. It has to be the same
 * wherever the workflow gets started (worker start-up, a row forward, a `submit`), so it lives here.
 */
import type { PracticeSettings } from '../mi/practices';
import type { ReportingInput } from '../workflows/reporting';
import type { Config } from './index';

export function reportingInput(config: Config, practice: PracticeSettings | undefined, practiceOds: string): ReportingInput {
  const cadence = practice?.cadence ?? config.pipeline.cadence;
  return {
    practiceOds,
    ...(config.pipeline.firstDay ? { firstDay: config.pipeline.firstDay } : {}),
    options: {
      cadence,
      correctionWindowDays: config.pipeline.correctionWindowDays,
      submission: {
        trackingIntervalMs: config.pipeline.trackingIntervalMs,
        trackingMaxIntervalMs: config.pipeline.trackingMaxIntervalMs,
        deliveryDeadlineMs: config.pipeline.deliveryDeadlineMs,
      },
    },
  };
}
