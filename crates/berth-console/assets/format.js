// berth console: sizes, counts, times, digests and media types as the pages show them.

import { h } from './dom.js';

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

export function formatBytes(n) {
  if (n == null || !Number.isFinite(Number(n))) return '—';
  let v = Number(n);
  if (v < 1024) return `${v} B`;
  let i = 0;
  while (v >= 1024 && i < BYTE_UNITS.length - 1) {
    v /= 1024;
    i += 1;
  }
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${Number(v.toFixed(digits)).toLocaleString()} ${BYTE_UNITS[i]}`;
}

const numberFormat = new Intl.NumberFormat();
export const formatNumber = (n) => numberFormat.format(Number(n) || 0);

// A count with its noun: "1 image", "2 images", "0 images"; `plural` when it is not noun + s.
export function countOf(n, noun, plural = `${noun}s`) {
  return `${formatNumber(n)} ${Number(n) === 1 ? noun : plural}`;
}

const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const dateFormatUtc = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC',
});
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

function parseTime(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

function relativeTime(d) {
  const seconds = Math.round((d.getTime() - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return relativeFormat.format(seconds, 'second');
  if (abs < 2700) return relativeFormat.format(Math.round(seconds / 60), 'minute');
  if (abs < 64800) return relativeFormat.format(Math.round(seconds / 3600), 'hour');
  if (abs < 30 * 86400) return relativeFormat.format(Math.round(seconds / 86400), 'day');
  if (abs < 365 * 86400) return relativeFormat.format(Math.round(seconds / (30 * 86400)), 'month');
  return relativeFormat.format(Math.round(seconds / (365 * 86400)), 'year');
}

const dateFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

// A time cell: local date-time (with `dateOnly`, the date: narrow columns), the relative time and
// the exact instant on hover.
export function timeCell(iso, empty = 'never', testid, { dateOnly = false } = {}) {
  const d = parseTime(iso);
  if (!d) return h('span', { class: 'muted', 'data-testid': testid }, iso ? String(iso) : empty);
  return h('time', {
    datetime: d.toISOString(), title: `${dateTimeFormat.format(d)} · ${relativeTime(d)} · ${d.toISOString()}`, 'data-testid': testid,
  }, (dateOnly ? dateFormat : dateTimeFormat).format(d));
}

// An expiry set as a date (midnight UTC) reads best as that date; any other instant in local time.
export function formatExpiry(iso) {
  const d = parseTime(iso);
  if (!d) return String(iso || '');
  const midnightUtc = d.getUTCHours() === 0 && d.getUTCMinutes() === 0 && d.getUTCSeconds() === 0;
  return midnightUtc ? dateFormatUtc.format(d) : dateTimeFormat.format(d);
}

export function utcDateInput(iso) {
  const d = parseTime(iso);
  return d ? d.toISOString().slice(0, 10) : '';
}

export function shortDigest(digest) {
  const s = String(digest || '');
  const i = s.indexOf(':');
  return i >= 0 ? s.slice(i + 1, i + 13) : s.slice(0, 12);
}

const MEDIA_TYPES = {
  'application/vnd.oci.image.manifest.v1+json': 'OCI image',
  'application/vnd.oci.image.index.v1+json': 'OCI index',
  'application/vnd.docker.distribution.manifest.v2+json': 'Docker image',
  'application/vnd.docker.distribution.manifest.list.v2+json': 'Docker manifest list',
};

// The config media types of plain container images: the artifact type the registry reports
// for an image manifest without its own artifactType, which says nothing more than "image".
const IMAGE_CONFIG_TYPES = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);

export function mediaTypeLabel(artifact) {
  if (artifact.artifact_type && !IMAGE_CONFIG_TYPES.has(artifact.artifact_type)) return artifact.artifact_type;
  return MEDIA_TYPES[artifact.media_type] || artifact.media_type || '—';
}

export const PERMISSIONS = { push_pull: 'Push & pull', pull: 'Pull only' };
