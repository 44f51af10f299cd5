/**
 * A throw-away certificate authority for mutual-TLS tests, made with the openssl command line: a CA,
 * a server certificate for 127.0.0.1/localhost and a client certificate, all signed by the CA, plus a
 * second, unrelated CA with a client certificate of its own (to prove that an untrusted server, and
 * an untrusted client, are refused). PEM files in `dir`.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface TestCa {
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** A CA that signed none of the above. */
  otherCaFile: string;
  /** A client certificate signed by the other CA, which the server does not trust. */
  rogueClientCertFile: string;
  rogueClientKeyFile: string;
}

const OPENSSL = process.env.OPENSSL ?? 'openssl';

function openssl(dir: string, args: string[]): void {
  execFileSync(OPENSSL, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function issue(dir: string, ca: string, name: string, cn: string, extensions: string): void {
  fs.writeFileSync(path.join(dir, `${name}.ext`), extensions);
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
}

export function makeTestCa(dir: string): TestCa {
  fs.mkdirSync(dir, { recursive: true });
  makeCa(dir, 'test-ca');
  makeCa(dir, 'other-ca');
  issue(dir, 'test-ca', 'server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  issue(dir, 'test-ca', 'client', 'X26MSH008', 'extendedKeyUsage=clientAuth\n');
  issue(dir, 'other-ca', 'rogue-client', 'X26MSH008', 'extendedKeyUsage=clientAuth\n');
  const f = (name: string) => path.join(dir, name);
  return {
    caFile: f('test-ca.crt'),
    serverCertFile: f('server.crt'),
    serverKeyFile: f('server.key'),
    clientCertFile: f('client.crt'),
    clientKeyFile: f('client.key'),
    otherCaFile: f('other-ca.crt'),
    rogueClientCertFile: f('rogue-client.crt'),
    rogueClientKeyFile: f('rogue-client.key'),
  };
}
