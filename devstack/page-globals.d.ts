// Types of the globals the bundled pages expose, for code that drives them through puppeteer.
import type { RoomPageApi } from '../room/page-api.js';
import type { OutsiderPageApi } from '../test/fixtures/outsider/outsider-api.js';

declare global {
  interface Window {
    chaperoneRoom: RoomPageApi;
    outsider: OutsiderPageApi;
  }
}
