// How check results print their numbers: latencies in µs, rates, changes,
// percentages and p-values.
import type { Unit } from './metrics.js';

function fmtNum(v: number, unit: Unit): string {
  if (unit === 'ns') {
    const us = v / 1000;
    const a = Math.abs(us);
    return `${a >= 100 ? us.toFixed(0) : a >= 10 ? us.toFixed(1) : a >= 1 ? us.toFixed(2) : us.toFixed(3)} µs`;
  }
  if (unit === 'faults/s') return `${v.toFixed(Math.abs(v) >= 100 ? 0 : 1)}/s`;
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

export function formatValue(v: number | null, unit: Unit): string {
  return v === null || !Number.isFinite(v) ? '-' : fmtNum(v, unit);
}

export function formatChange(v: number | null, unit: Unit): string {
  if (v === null || !Number.isFinite(v)) return '-';
  if (v === 0) return '0';
  return (v > 0 ? '+' : '−') + fmtNum(Math.abs(v), unit);
}

export function formatPercent(r: number | null): string {
  if (r === null || !Number.isFinite(r)) return '';
  return `${r >= 0 ? '+' : '−'}${Math.abs(r * 100).toFixed(Math.abs(r) >= 0.1 ? 0 : 1)}%`;
}

export function fmtP(p: number | null): string {
  if (p === null) return '-';
  if (p === 0) return '0';
  if (p < 1e-4) return p.toExponential(1);
  return p < 0.01 ? p.toFixed(4) : p.toFixed(3);
}
