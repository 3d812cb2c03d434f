/** The fixed catalog the simulated project sees: locations, datacenters, server types and system images. */

const created = '2016-01-30T23:55:00Z';

export const locations = [
  loc(1, 'fsn1', 'Falkenstein DC Park 1', 'DE', 'Falkenstein', 50.47612, 12.370071, 'eu-central'),
  loc(2, 'nbg1', 'Nuremberg DC Park 1', 'DE', 'Nuremberg', 49.452102, 11.076665, 'eu-central'),
  loc(3, 'hel1', 'Helsinki DC Park 1', 'FI', 'Helsinki', 60.169855, 24.938379, 'eu-central'),
];

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

export const serverTypes = [
  serverType(1, 'cx22', 2, 4, 40),
  serverType(2, 'cx32', 4, 8, 80),
  serverType(3, 'cx42', 8, 16, 160),
  serverType(4, 'cpx21', 3, 4, 80),
];

function serverType(id: number, name: string, cores: number, memory: number, disk: number) {
  return {
    id,
    name,
    description: name.toUpperCase(),
    category: 'shared',
    cores,
    memory,
    disk,
    deprecated: false,
    deprecation: null,
    prices: locations.map((l) => ({
      location: l.name,
      price_hourly: { net: '0.0060', gross: '0.0071' },
      price_monthly: { net: '3.7900', gross: '4.5101' },
      included_traffic: 21990232555520,
      price_per_tb_traffic: { net: '1.0000', gross: '1.1900' },
    })),
    storage_type: 'local',
    cpu_type: 'shared',
    architecture: 'x86',
    locations: locations.map((l) => ({
      id: l.id,
      name: l.name,
      deprecation: null,
      available: true,
      recommended: true,
    })),
  };
}

export const datacenters = locations.map((l, i) => ({
  id: i + 1,
  name: `${l.name}-dc${i + 1}`,
  description: `${l.city} ${i + 1}`,
  location: l,
  server_types: {
    supported: serverTypes.map((t) => t.id),
    available: serverTypes.map((t) => t.id),
    available_for_migration: serverTypes.map((t) => t.id),
  },
}));

export function systemImage(id: number, name: string, flavor: string, version: string) {
  return {
    id,
    type: 'system',
    status: 'available',
    name,
    description: `${flavor} ${version}`,
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
    architecture: 'x86',
  };
}

export const systemImages = [
  systemImage(1, 'debian-12', 'debian', '12'),
  systemImage(2, 'ubuntu-24.04', 'ubuntu', '24.04'),
];
