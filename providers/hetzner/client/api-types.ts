/** The parts of Hetzner Cloud API objects keelson reads (see docs.hetzner.cloud). */

export type HcloudLabels = Record<string, string>;

export interface HcloudAction {
  readonly id: number;
  readonly command: string;
  readonly status: 'running' | 'success' | 'error';
  readonly resources: readonly { readonly id: number; readonly type: string }[];
  readonly error: { readonly code: string; readonly message: string } | null;
}

export interface HcloudServer {
  readonly id: number;
  readonly name: string;
  readonly status: string;
  readonly labels: HcloudLabels;
  readonly server_type: { readonly name: string };
  readonly datacenter: { readonly name: string; readonly location: { readonly name: string } };
  readonly image: { readonly id: number; readonly name: string | null } | null;
  readonly public_net: {
    readonly ipv4: { readonly ip: string } | null;
    readonly ipv6: { readonly ip: string } | null;
    readonly firewalls: readonly { readonly id: number; readonly status: string }[];
  };
  readonly private_net: readonly { readonly network: number; readonly ip: string }[];
  readonly protection: { readonly delete: boolean; readonly rebuild: boolean };
  readonly placement_group: { readonly id: number } | null;
  readonly locked?: boolean;
}

export interface HcloudNetwork {
  readonly id: number;
  readonly name: string;
  readonly ip_range: string;
  readonly subnets: readonly { readonly type: string; readonly ip_range: string; readonly network_zone: string }[];
  readonly routes: readonly { readonly destination: string; readonly gateway: string }[];
  readonly labels: HcloudLabels;
  readonly protection: { readonly delete: boolean };
}

export interface HcloudFirewallRule {
  readonly description?: string | null;
  readonly direction: 'in' | 'out';
  readonly protocol: string;
  readonly port?: string | null;
  readonly source_ips: readonly string[];
  readonly destination_ips: readonly string[];
}

export type HcloudFirewallTarget =
  | { readonly type: 'server'; readonly server: { readonly id: number } }
  | { readonly type: 'label_selector'; readonly label_selector: { readonly selector: string } };

export interface HcloudFirewall {
  readonly id: number;
  readonly name: string;
  readonly labels: HcloudLabels;
  readonly rules: readonly HcloudFirewallRule[];
  readonly applied_to: readonly HcloudFirewallTarget[];
}

export interface HcloudSshKey {
  readonly id: number;
  readonly name: string;
  readonly fingerprint: string;
  readonly public_key: string;
  readonly labels: HcloudLabels;
}

export interface HcloudPlacementGroup {
  readonly id: number;
  readonly name: string;
  readonly type: string;
  readonly labels: HcloudLabels;
  readonly servers: readonly number[];
}

export interface HcloudVolume {
  readonly id: number;
  readonly name: string;
  readonly size: number;
  readonly server: number | null;
  readonly location: { readonly name: string };
  readonly linux_device: string;
  readonly labels: HcloudLabels;
  readonly protection: { readonly delete: boolean };
  readonly status: string;
  readonly format: string | null;
}

export interface HcloudImage {
  readonly id: number;
  readonly type: string;
  readonly name: string | null;
  readonly description: string;
  readonly created: string;
  readonly labels: HcloudLabels;
}
