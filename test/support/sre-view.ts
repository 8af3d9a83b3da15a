import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { alertRulesFile, repoRoot } from '@flash/stack';

/** The chart's alert rules (alerts/flash-sale.rules.yaml). */
export const alertRules = (parse(readFileSync(alertRulesFile, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] })
  .groups.flatMap((g) => g.rules);

const dashboard = JSON.parse(readFileSync(path.join(repoRoot, 'charts/flash-sale/dashboards/flash-sale.json'), 'utf8')) as {
  panels: { title: string; targets?: { expr: string }[] }[];
};

/** Every query of the chart's Grafana dashboard, named after its panel. */
export const panelQueries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })));
