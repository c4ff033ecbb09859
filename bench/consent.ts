export { run } from '../keyservice/consent-bench.js';
