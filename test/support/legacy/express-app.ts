// A legacy Express 5 app on port 0, for differential tests, with the two quirks a gateway that
// authorises by method and path must not hand it: the router's defaults (case-insensitive,
// non-strict, so `/ADMIN/x` is `/admin/x`) and method-override (a POST carrying
// `X-HTTP-Method-Override: DELETE` is routed as a DELETE). Every request it received is recorded.
import { createServer } from 'node:http';
import express from 'express';
import methodOverride from 'method-override';
import { listenLocal } from './listen.js';

export type ExpressHandler = 'admin' | 'delete-item' | 'get-item' | 'post-item' | 'catch-all';

export interface ExpressReceived {
  /** The method Express routed on, i.e. after method-override. */
  method: string;
  /** The method on the request line. */
  originalMethod: string;
  path: string;
  /** req.originalUrl: the request target as received. */
  url: string;
  headers: express.Request['headers'];
  /** Which handler answered; undefined until (unless) one does. */
  handler?: ExpressHandler;
}

export interface ExpressUpstream {
  url: string;
  received: ExpressReceived[];
  close(): Promise<void>;
}

export function createExpressApp(received: ExpressReceived[]): express.Express {
  // Default router options on purpose: that is what legacy apps run with.
  const app = express();

  // One middleware per header name that override libraries and frameworks commonly honour.
  // method-override only looks at POSTs (its default), like most deployments.
  app.use(methodOverride('X-HTTP-Method-Override'));
  app.use(methodOverride('X-HTTP-Method'));
  app.use(methodOverride('X-Method-Override'));
  // A getter that is not an X- header name reads the query string: POST /items/7?_method=DELETE.
  app.use(methodOverride('_method'));

  // Recorded before routing, so a request that reached the app is in `received` even if no handler ran.
  app.use((req, res, next) => {
    const rec: ExpressReceived = {
      method: req.method,
      // method-override sets this; @types/method-override declares it in a module scope, so it
      // never reaches express.Request.
      originalMethod: (req as express.Request & { originalMethod?: string }).originalMethod ?? req.method,
      path: req.path,
      url: req.originalUrl,
      headers: req.headers,
    };
    received.push(rec);
    res.locals.rec = rec;
    next();
  });

  const answer = (res: express.Response, handler: ExpressHandler, body: string) => {
    (res.locals.rec as ExpressReceived).handler = handler;
    res.type('text/plain').send(body);
  };

  // path-to-regexp 8 (Express 5): a wildcard needs a name, and `{...}` makes a part optional, so this
  // matches `/admin`, `/admin/` and anything below it (`/admin/*splat` alone would miss `/admin`).
  app.all('/admin{/*splat}', (_req, res) => answer(res, 'admin', 'admin area'));
  app.delete('/items/:id', (req, res) => answer(res, 'delete-item', `deleted ${req.params.id}`));
  app.get('/items/:id', (req, res) => answer(res, 'get-item', `item ${req.params.id}`));
  app.post('/items/:id', (req, res) => answer(res, 'post-item', `posted ${req.params.id}`));
  app.use((_req, res) => answer(res, 'catch-all', 'ok'));
  return app;
}

export async function startExpressUpstream(): Promise<ExpressUpstream> {
  const received: ExpressReceived[] = [];
  const { url, close } = await listenLocal(createServer(createExpressApp(received)));
  return { url, received, close };
}
