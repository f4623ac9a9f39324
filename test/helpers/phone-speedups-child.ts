import { parentPort, workerData } from 'node:worker_threads';
import { installPhoneSpeedups, appliedSpeedups } from '../../src/ingest/phone-speedups.ts';

// A thread of its own, like a validation thread: the hooks go in before libphonenumber-js is loaded.
installPhoneSpeedups();
const { normalizePhone } = await import('../../src/ingest/phone.ts');
const { inputs } = workerData as { inputs: Array<[string, string | undefined]> };
parentPort!.postMessage({ results: inputs.map(([raw, country]) => normalizePhone(raw, country)), speedups: appliedSpeedups() });
