/** Node's error codes for a server certificate that does not chain to a trusted CA. */
const UNTRUSTED_CERTIFICATE = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/**
 * What is wrong with a server's certificate, in words naming the CA setting to fix, for a TLS error code;
 * undefined when the code is not about trusting the certificate.
 */
export function untrustedCertificateReason(
  code: string,
  caSetting: string,
  caGiven: boolean,
): string | undefined {
  if (UNTRUSTED_CERTIFICATE.has(code))
    return caGiven
      ? `the server's certificate is not signed by ${caSetting} (${code})`
      : `the server's certificate is not signed by a CA this system trusts; set ${caSetting} (${code})`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return `the server's certificate is not valid now (${code})`;
  return undefined;
}
