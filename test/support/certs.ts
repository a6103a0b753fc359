// Certificates made by the tests with the openssl command line: a private CA, and server
// certificates it signs for 127.0.0.1/localhost (or a wrong host, or already expired). Nothing here
// is trusted outside the test that made it.
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** A server certificate and key signed by this CA, written to `<name>.crt` / `<name>.key`. */
  issue(name: string, opts?: { hosts?: string[]; expired?: boolean }): Promise<{ certFile: string; keyFile: string }>;
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

export async function makeCa(): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'gw-ca-'));
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Gateway Test CA'], dir);
  let serial = 1;
  return {
    dir,
    certFile: join(dir, 'ca.crt'),
    keyFile: join(dir, 'ca.key'),
    async issue(name, opts = {}) {
      const hosts = opts.hosts ?? ['127.0.0.1', 'localhost'];
      const san = hosts.map((h) => (/^[\d.]+$/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
      await writeFile(join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n`);
      openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${hosts[0]}`], dir);
      if (opts.expired) {
        // `openssl x509 -req` cannot date a certificate in the past; `openssl ca` can (valid for one day in 2020).
        await writeFile(join(dir, 'ca.cnf'), '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial.txt\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n');
        await writeFile(join(dir, 'index.txt'), '');
        await writeFile(join(dir, 'serial.txt'), `${(++serial).toString(16).padStart(2, '0')}\n`);
        openssl(['ca', '-batch', '-notext', '-config', 'ca.cnf', '-cert', 'ca.crt', '-keyfile', 'ca.key', '-in', `${name}.csr`, '-out', `${name}.crt`, '-extfile', `${name}.ext`, '-startdate', '20200101000000Z', '-enddate', '20200102000000Z'], dir);
      } else {
        openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(++serial), '-out', `${name}.crt`, '-extfile', `${name}.ext`, '-days', '2'], dir);
      }
      return { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
    },
  };
}
