// Text for times and durations.

/** Milliseconds of a .NET "O" UTC text (7 fractional digits: JS dates keep 3). */
export function utcMs(text) {
  return text ? Date.parse(text.replace(/(\.\d{3})\d*/, '$1')) : NaN;
}

/** A duration in the largest unit that still reads precisely enough: seconds, minutes, hours, then days. */
export function age(ms) {
  if (!Number.isFinite(ms)) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

const zoneFormats = {
  year: 'numeric',
  month: 'short',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  timeZoneName: 'short',
};

/** An ISO instant as wall-clock time in an IANA zone; the ISO text itself if the browser does not know the zone. */
export function inZone(iso, timeZone) {
  if (!iso) return '—';
  try {
    return new Intl.DateTimeFormat('en-GB', { timeZone, ...zoneFormats }).format(new Date(iso));
  } catch {
    return iso;
  }
}
