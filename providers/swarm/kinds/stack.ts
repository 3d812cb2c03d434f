import { type CompositeExpander, defineKind, type ExpandedDocument, type ExpandIO } from '../../sdk/index.ts';
import { expandChart } from '../compose/compose-stack.ts';

export const STACK_KIND = 'swarm.Stack';

export const stackSchema = defineKind({
  kind: STACK_KIND,
  description:
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is Compose syntax, not a template
    'A stack from a chart: charts/<chart>/docker-compose.yml with ${VAR} interpolation from values (defaults in charts/<chart>/values.yaml), expanded into swarm.Network, swarm.Secret, swarm.Config and swarm.Service resources named <stack>_<name>, as docker stack deploy names them.',
  spec: {
    chart: {
      type: 'string',
      required: true,
      description: 'Chart name (a folder of charts/), or a path from the repository root.',
    },
    values: {
      type: 'map',
      values: { type: 'any' },
      default: {},
      // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is Compose syntax
      description: 'Values for ${VAR} in the chart; they override the chart’s values.yaml.',
    },
  },
});

/** Expands a `swarm.Stack` at load time. Throws a `ChartError` listing every problem with file:line:column. */
export const stackExpander: CompositeExpander = {
  expand(resource, io: ExpandIO): ExpandedDocument[] {
    const chart = String(resource.spec.chart ?? '');
    const values = (resource.spec.values ?? {}) as Record<string, unknown>;
    return expandChart({ stack: resource.name, chart, values }, io);
  },
};
