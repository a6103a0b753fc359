// `npm start`: the demo backend and the gateway on the shipped development config, in one
// process, so a fresh clone needs nothing else running.
import { resolve } from 'node:path';
import { startGateway } from '../src/main.js';
import { startDemoBackend } from './backend.js';

const demoPort = Number(process.env.DEMO_PORT ?? 9001);
const demo = await startDemoBackend(demoPort);
const gateway = await startGateway({ configPath: resolve(process.env.GATEWAY_CONFIG ?? 'config/gateway.yaml') });
gateway.logger.info(
  { demoBackend: demo.url, try: `curl -s ${gateway.url}/demo/hello`, metrics: `${gateway.adminUrl}/metrics` },
  'development gateway ready',
);
process.on('SIGHUP', () => void gateway.reloadRoutes());
const stop = () => void gateway.shutdown().then(() => demo.server.close(() => process.exit(0)));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
