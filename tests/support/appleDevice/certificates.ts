/**
 * Real X.509 certificates for simulated Apple devices, made with node-forge: a CA (NanoMDM's `-ca`) and
 * per device an identity certificate it issues (extended key usage clientAuth, which NanoMDM's verifier
 * requires), as an enrolment's SCEP step would give a real device. Keys come from node:crypto (fast).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface Ca {
  certPem: string;
  issue(commonName: string): DeviceIdentity;
}

export interface DeviceIdentity {
  certPem: string;
  /** The certificate as RFC 9440 puts it in a header: base64 DER between colons (NanoMDM -cert-header). */
  rfc9440: string;
}

function keyPair(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const forgeKey = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
  return { privateKey: forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e) };
}

function certificate(subject: string, publicKey: forge.pki.rsa.PublicKey, days: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: subject }]);
  return cert;
}

export function createCa(name = 'Device Lifecycle Test MDM CA'): Ca {
  const keys = keyPair();
  const ca = certificate(name, keys.publicKey, 30);
  ca.setIssuer(ca.subject.attributes);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(keys.privateKey, forge.md.sha256.create());
  return {
    certPem: forge.pki.certificateToPem(ca),
    issue(commonName) {
      const device = keyPair();
      const cert = certificate(commonName, device.publicKey, 30);
      cert.setIssuer(ca.subject.attributes);
      cert.setExtensions([
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', clientAuth: true },
      ]);
      cert.sign(keys.privateKey, forge.md.sha256.create());
      const der = forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes();
      return { certPem: forge.pki.certificateToPem(cert), rfc9440: `:${forge.util.encode64(der)}:` };
    },
  };
}
