/** The stack serves the bundled pages with the recorder's own page server. */
export { startStaticServer, type StaticServer } from '../bot/page-server.js';
