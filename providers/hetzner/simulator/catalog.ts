/**
 * The fixed catalog the simulated project sees: today's locations and datacenters (with the vendor's
 * names and ids), shared, dedicated and Arm server types, and system images for both architectures.
 */

const created = '2016-01-30T23:55:00Z';

export const locations = [
  loc(1, 'fsn1', 'Falkenstein DC Park 1', 'DE', 'Falkenstein', 50.47612, 12.370071, 'eu-central'),
  loc(2, 'nbg1', 'Nuremberg DC Park 1', 'DE', 'Nuremberg', 49.452102, 11.076665, 'eu-central'),
  loc(3, 'hel1', 'Helsinki DC Park 1', 'FI', 'Helsinki', 60.169855, 24.938379, 'eu-central'),
  loc(4, 'ash', 'Ashburn, VA', 'US', 'Ashburn, VA', 39.045821, -77.487073, 'us-east'),
  loc(5, 'hil', 'Hillsboro, OR', 'US', 'Hillsboro, OR', 45.54222, -122.951924, 'us-west'),
  loc(6, 'sin', 'Singapore', 'SG', 'Singapore', 1.283333, 103.833333, 'ap-southeast'),
];

export type Location = (typeof locations)[number];

function loc(
  id: number,
  name: string,
  description: string,
  country: string,
  city: string,
  latitude: number,
  longitude: number,
  network_zone: string,
) {
  return { id, name, description, country, city, latitude, longitude, network_zone };
}

const eu = ['fsn1', 'nbg1', 'hel1'];
const everywhere = locations.map((l) => l.name);

export const serverTypes = [
  // Cost-optimised shared x86 (the current generation and the one before it).
  serverType(104, 'cx22', 2, 4, 40, 'shared', 'x86', eu),
  serverType(105, 'cx32', 4, 8, 80, 'shared', 'x86', eu),
  serverType(106, 'cx42', 8, 16, 160, 'shared', 'x86', eu),
  serverType(107, 'cx52', 16, 32, 320, 'shared', 'x86', eu),
  serverType(108, 'cx23', 2, 4, 40, 'shared', 'x86', eu),
  serverType(109, 'cx33', 4, 8, 80, 'shared', 'x86', eu),
  serverType(110, 'cx43', 8, 16, 160, 'shared', 'x86', eu),
  serverType(111, 'cx53', 16, 32, 320, 'shared', 'x86', eu),
  // Regular shared AMD.
  serverType(22, 'cpx11', 2, 2, 40, 'shared', 'x86', everywhere),
  serverType(23, 'cpx21', 3, 4, 80, 'shared', 'x86', everywhere),
  serverType(24, 'cpx31', 4, 8, 160, 'shared', 'x86', everywhere),
  serverType(112, 'cpx22', 2, 4, 80, 'shared', 'x86', everywhere),
  serverType(113, 'cpx32', 4, 8, 160, 'shared', 'x86', everywhere),
  serverType(114, 'cpx42', 8, 16, 320, 'shared', 'x86', everywhere),
  // Shared Arm (Ampere), EU only.
  serverType(45, 'cax11', 2, 4, 40, 'shared', 'arm', eu),
  serverType(93, 'cax21', 4, 8, 80, 'shared', 'arm', eu),
  serverType(94, 'cax31', 8, 16, 160, 'shared', 'arm', eu),
  serverType(95, 'cax41', 16, 32, 320, 'shared', 'arm', eu),
  // Dedicated vCPU.
  serverType(96, 'ccx13', 2, 8, 80, 'dedicated', 'x86', everywhere),
  serverType(97, 'ccx23', 4, 16, 160, 'dedicated', 'x86', everywhere),
  serverType(98, 'ccx33', 8, 32, 240, 'dedicated', 'x86', everywhere),
];

export type ServerType = (typeof serverTypes)[number];

function serverType(
  id: number,
  name: string,
  cores: number,
  memory: number,
  disk: number,
  cpu: 'shared' | 'dedicated',
  architecture: 'x86' | 'arm',
  where: readonly string[],
) {
  const at = locations.filter((l) => where.includes(l.name));
  return {
    id,
    name,
    description: name.toUpperCase(),
    category: cpu === 'dedicated' ? 'dedicated_cpu' : architecture === 'arm' ? 'cost_optimized' : 'regular_purpose',
    cores,
    memory,
    disk,
    deprecated: false,
    deprecation: null,
    prices: at.map((l) => ({
      location: l.name,
      price_hourly: { net: '0.0060', gross: '0.0071' },
      price_monthly: { net: '3.7900', gross: '4.5101' },
      included_traffic: l.network_zone === 'eu-central' ? 21990232555520 : 1099511627776,
      price_per_tb_traffic: { net: '1.0000', gross: '1.1900' },
    })),
    storage_type: 'local',
    cpu_type: cpu,
    architecture,
    locations: at.map((l) => ({ id: l.id, name: l.name, deprecation: null, available: true, recommended: true })),
  };
}

/** The vendor's current datacenter per location (ids and names as the real API reports them). */
const datacenterNames: Record<string, [number, string, string]> = {
  fsn1: [4, 'fsn1-dc14', 'Falkenstein 1 virtual DC 14'],
  nbg1: [2, 'nbg1-dc3', 'Nuremberg 1 virtual DC 3'],
  hel1: [3, 'hel1-dc2', 'Helsinki 1 virtual DC 2'],
  ash: [5, 'ash-dc1', 'Ashburn virtual DC 1'],
  hil: [6, 'hil-dc1', 'Hillsboro virtual DC 1'],
  sin: [7, 'sin-dc1', 'Singapore virtual DC 1'],
};

export const datacenters = locations.map((l) => {
  const [id, name, description] = datacenterNames[l.name]!;
  const here = serverTypes.filter((t) => t.locations.some((x) => x.name === l.name)).map((t) => t.id);
  return {
    id,
    name,
    description,
    location: l,
    server_types: { supported: here, available: here, available_for_migration: here },
  };
});

export type Datacenter = (typeof datacenters)[number];

export function systemImage(
  id: number,
  name: string,
  flavor: string,
  version: string,
  architecture: 'x86' | 'arm' = 'x86',
) {
  return {
    id,
    type: 'system',
    status: 'available',
    name,
    description: `${flavor[0]!.toUpperCase()}${flavor.slice(1)} ${version}`,
    image_size: null,
    disk_size: 5,
    created,
    created_from: null,
    bound_to: null,
    os_flavor: flavor,
    os_version: version,
    rapid_deploy: true,
    protection: { delete: false },
    deprecated: null,
    deleted: null,
    labels: {} as Record<string, string>,
    architecture,
  };
}

/** System images; as at Hetzner, each name exists once per architecture (the server type picks which). */
export const systemImages = [
  systemImage(1, 'debian-12', 'debian', '12'),
  systemImage(2, 'ubuntu-24.04', 'ubuntu', '24.04'),
  systemImage(3, 'debian-13', 'debian', '13'),
  systemImage(4, 'ubuntu-22.04', 'ubuntu', '22.04'),
  systemImage(5, 'rocky-9', 'rocky', '9'),
  systemImage(101, 'debian-12', 'debian', '12', 'arm'),
  systemImage(102, 'ubuntu-24.04', 'ubuntu', '24.04', 'arm'),
  systemImage(103, 'debian-13', 'debian', '13', 'arm'),
  systemImage(104, 'ubuntu-22.04', 'ubuntu', '22.04', 'arm'),
  systemImage(105, 'rocky-9', 'rocky', '9', 'arm'),
];

/**
 * Resolves a reference the way the API does: an integer id, an id as a string, or a name.
 * Undefined when nothing matches.
 */
export function findRef<T extends { id: number; name: string | null }>(
  items: Iterable<T>,
  ref: unknown,
): T | undefined {
  if (typeof ref === 'number') {
    for (const i of items) if (i.id === ref) return i;
    return undefined;
  }
  if (typeof ref !== 'string' || ref === '') return undefined;
  const list = [...items];
  return list.find((i) => i.name === ref) ?? (/^\d+$/.test(ref) ? list.find((i) => i.id === Number(ref)) : undefined);
}
