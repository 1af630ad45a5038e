//! jsonwebtoken's verifiers, on ring: the one crypto library the functions already carry (rustls
//! uses it), instead of a second stack (aws-lc, or RustCrypto's rsa) for the same job.
//! Verification only, asymmetric only: this service never signs a JWT, and an HMAC verifier
//! would let anyone who knows a public key sign with it.

use jsonwebtoken::crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::jwk::ThumbprintHash;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::signature as ring_signature;

/// The provider, installed once per process by [`install`].
static RING: CryptoProvider = CryptoProvider {
    signer_factory: no_signer,
    verifier_factory: verifier,
    jwk_utils: JwkUtils {
        extract_rsa_public_key_components: |_| Err(ErrorKind::InvalidKeyFormat.into()),
        extract_ec_public_key_coordinates: |_, _| Err(ErrorKind::InvalidKeyFormat.into()),
        compute_digest,
    },
};

/// Makes ring jsonwebtoken's process-wide provider. Safe to call more than once.
pub fn install() {
    let _ = RING.install_default();
}

fn no_signer(_: &Algorithm, _: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    Err(ErrorKind::InvalidAlgorithm.into())
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Vec<u8> {
    let algorithm = match hash {
        ThumbprintHash::SHA256 => &ring::digest::SHA256,
        ThumbprintHash::SHA384 => &ring::digest::SHA384,
        ThumbprintHash::SHA512 => &ring::digest::SHA512,
    };
    ring::digest::digest(algorithm, data).as_ref().to_vec()
}

enum PublicKey {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
        parameters: &'static ring_signature::RsaParameters,
    },
    /// An EC point (`04 || x || y`) or an Ed25519 key, as ring reads them.
    Raw {
        bytes: Vec<u8>,
        parameters: &'static dyn ring_signature::VerificationAlgorithm,
    },
}

struct RingVerifier {
    algorithm: Algorithm,
    key: PublicKey,
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    use ring_signature::*;
    let rsa = |parameters: &'static RsaParameters| match key.kind() {
        DecodingKeyKind::RsaModulusExponent { n, e } if key.family() == AlgorithmFamily::Rsa => {
            Ok(PublicKey::Rsa { n: n.clone(), e: e.clone(), parameters })
        }
        _ => Err(Error::from(ErrorKind::InvalidKeyFormat)),
    };
    let raw = |family: AlgorithmFamily, parameters: &'static dyn VerificationAlgorithm| match key.kind() {
        DecodingKeyKind::SecretOrDer(bytes) if key.family() == family => {
            Ok(PublicKey::Raw { bytes: bytes.clone(), parameters })
        }
        _ => Err(Error::from(ErrorKind::InvalidKeyFormat)),
    };
    let key = match algorithm {
        Algorithm::RS256 => rsa(&RSA_PKCS1_2048_8192_SHA256)?,
        Algorithm::RS384 => rsa(&RSA_PKCS1_2048_8192_SHA384)?,
        Algorithm::RS512 => rsa(&RSA_PKCS1_2048_8192_SHA512)?,
        Algorithm::PS256 => rsa(&RSA_PSS_2048_8192_SHA256)?,
        Algorithm::PS384 => rsa(&RSA_PSS_2048_8192_SHA384)?,
        Algorithm::PS512 => rsa(&RSA_PSS_2048_8192_SHA512)?,
        Algorithm::ES256 => raw(AlgorithmFamily::Ec, &ECDSA_P256_SHA256_FIXED)?,
        Algorithm::ES384 => raw(AlgorithmFamily::Ec, &ECDSA_P384_SHA384_FIXED)?,
        Algorithm::EdDSA => raw(AlgorithmFamily::Ed, &ED25519)?,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => return Err(ErrorKind::InvalidAlgorithm.into()),
    };
    Ok(Box::new(RingVerifier { algorithm: *algorithm, key }))
}

impl jsonwebtoken::signature::Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), jsonwebtoken::signature::Error> {
        let verified = match &self.key {
            PublicKey::Rsa { n, e, parameters } => {
                ring_signature::RsaPublicKeyComponents { n, e }.verify(parameters, message, signature)
            }
            PublicKey::Raw { bytes, parameters } => {
                ring_signature::UnparsedPublicKey::new(*parameters, bytes).verify(message, signature)
            }
        };
        verified.map_err(|_| jsonwebtoken::signature::Error::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}
