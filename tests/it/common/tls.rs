//! An HTTPS server on loopback that asks every client for a certificate signed by its own
//! test CA (mutual TLS), with the certificates made by `openssl` for each test run.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig, crypto};

/// PEM texts of a test CA, a server certificate for 127.0.0.1 and a client certificate.
pub struct Certificates {
    pub ca: String,
    pub server: String,
    pub server_key: String,
    pub client: String,
    pub client_key: String,
}

impl Certificates {
    /// Makes them with `openssl`; `None` when it cannot.
    pub fn make() -> Option<Self> {
        let dir = std::env::temp_dir().join(format!("oc-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).ok()?;
        let made = make_in(&dir);
        std::fs::remove_dir_all(&dir).ok();
        made
    }
}

fn make_in(dir: &Path) -> Option<Certificates> {
    let run = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .ok()?;
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").ok()?;
    let new_key = |name: &str, subject: &str| {
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            subject,
        ])
    };
    let sign = |name: &str| {
        run(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &format!("{name}.pem"),
            "-extfile",
            &format!("{name}.ext"),
        ])
    };
    let made = run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=OpenConnector test CA",
    ]) && new_key("server", "/CN=127.0.0.1")
        && sign("server")
        && new_key("client", "/CN=connector")
        && sign("client");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    made.then(|| {
        Some(Certificates {
            ca: read("ca.pem")?,
            server: read("server.pem")?,
            server_key: read("server.key")?,
            client: read("client.pem")?,
            client_key: read("client.key")?,
        })
    })
    .flatten()
}

/// The running server: its base URL and how many handshakes it refused.
pub struct MutualTlsServer {
    pub base: String,
    refused: Arc<AtomicU32>,
}

impl MutualTlsServer {
    pub async fn start(certificates: &Certificates) -> Self {
        let provider = Arc::new(crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(certificates.ca.as_bytes()) {
            roots
                .add(certificate.expect("CA PEM"))
                .expect("CA certificate");
        }
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .expect("client verifier");
        let chain = CertificateDer::pem_slice_iter(certificates.server.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("server PEM");
        let key = PrivateKeyDer::from_pem_slice(certificates.server_key.as_bytes()).expect("key");
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .expect("server certificate");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let base = format!("https://{}", listener.local_addr().expect("bound"));
        let refused = Arc::new(AtomicU32::new(0));
        let counter = refused.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    match acceptor.accept(stream).await {
                        Ok(mut tls) => answer(&mut tls).await,
                        Err(_) => {
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        Self { base, refused }
    }

    pub fn handshakes_refused(&self) -> u32 {
        self.refused.load(Ordering::SeqCst)
    }
}

/// Reads one request head and answers it; only clients with a trusted certificate get here.
async fn answer(stream: &mut tokio_rustls::server::TlsStream<tokio::net::TcpStream>) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
    }
    let body = r#"{"mutual":true}"#;
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
