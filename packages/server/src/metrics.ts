/** One sample of a gauge computed at scrape time. */
export interface GaugeSample {
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A gauge family computed when `/metrics` is scraped. */
export interface GaugeFamily {
  readonly name: string;
  readonly help: string;
  readonly samples: readonly GaugeSample[];
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined) return '';
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k] ?? '')}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** Request counters of the gateway, rendered in the Prometheus text format (version 0.0.4). */
export class GatewayMetrics {
  readonly #requests = new Map<string, number>();
  readonly #durationSum = new Map<string, number>();

  /** Counts one finished request; `route` is the route template (`/v1/providers/:name`), never the raw URL. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const key = JSON.stringify([method, route, String(status)]);
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    const sumKey = JSON.stringify([method, route]);
    this.#durationSum.set(sumKey, (this.#durationSum.get(sumKey) ?? 0) + seconds);
  }

  /** The exposition text: counters plus the gauges given. */
  render(gauges: readonly GaugeFamily[]): string {
    const lines: string[] = [];
    lines.push('# HELP openshell_gateway_http_requests_total HTTP requests answered, by method, route template and status.');
    lines.push('# TYPE openshell_gateway_http_requests_total counter');
    for (const [key, value] of [...this.#requests].sort()) {
      const [method, route, status] = JSON.parse(key) as [string, string, string];
      lines.push(`openshell_gateway_http_requests_total${labelText({ method, route, status })} ${value}`);
    }
    lines.push('# HELP openshell_gateway_http_request_duration_seconds_sum Total time spent answering, by method and route template.');
    lines.push('# TYPE openshell_gateway_http_request_duration_seconds_sum counter');
    for (const [key, value] of [...this.#durationSum].sort()) {
      const [method, route] = JSON.parse(key) as [string, string];
      lines.push(`openshell_gateway_http_request_duration_seconds_sum${labelText({ method, route })} ${value}`);
    }
    for (const g of gauges) {
      lines.push(`# HELP ${g.name} ${g.help}`);
      lines.push(`# TYPE ${g.name} gauge`);
      for (const s of g.samples) lines.push(`${g.name}${labelText(s.labels)} ${s.value}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
