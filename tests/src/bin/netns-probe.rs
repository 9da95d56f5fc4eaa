//! `netns-probe`: a tiny network tool the namespace tests (`tests/src/netns.rs`) run inside their
//! namespaces, so they need nothing beyond `ip` and `nft` on the machine (no nc, curl or python).
//!
//! ```text
//! netns-probe tcp-serve ADDR          accept forever; tell each client the address it came from
//! netns-probe tcp-ask ADDR MS         connect (at most MS ms); print what the server said
//! netns-probe udp-serve ADDR          answer each datagram with the address it came from
//! netns-probe udp-ask BIND MS ADDR…   from ONE socket bound to BIND, ask each ADDR; print answers
//! netns-probe http METHOD URL [BODY]  one HTTP/1.1 request (JSON body); print status line + body
//! ```
//! Servers print `listening ADDR` once bound. Failures exit with status 1 and a message.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["tcp-serve", addr] => tcp_serve(addr),
        ["tcp-ask", addr, ms] => tcp_ask(addr, ms),
        ["udp-serve", addr] => udp_serve(addr),
        ["udp-ask", bind, ms, targets @ ..] if !targets.is_empty() => udp_ask(bind, ms, targets),
        ["http", method, url] => http(method, url, ""),
        ["http", method, url, body] => http(method, url, body),
        _ => Err(
            "usage: netns-probe tcp-serve ADDR | tcp-ask ADDR MS | udp-serve ADDR | \
                  udp-ask BIND MS ADDR... | http METHOD URL [BODY]"
                .to_string(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netns-probe: {e}");
            ExitCode::FAILURE
        }
    }
}

fn addr(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|e| format!("'{text}' is not an address: {e}"))
}

fn millis(text: &str) -> Result<Duration, String> {
    text.parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|e| format!("'{text}' is not a number of milliseconds: {e}"))
}

fn announce(bound: SocketAddr) -> Result<(), String> {
    let mut out = std::io::stdout();
    writeln!(out, "listening {bound}")
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())
}

fn tcp_serve(at: &str) -> Result<(), String> {
    let listener = TcpListener::bind(addr(at)?).map_err(|e| format!("bind {at}: {e}"))?;
    announce(listener.local_addr().map_err(|e| e.to_string())?)?;
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        if let Ok(peer) = stream.peer_addr() {
            let _ = writeln!(stream, "{peer}");
        }
    }
    Ok(())
}

fn tcp_ask(to: &str, ms: &str) -> Result<(), String> {
    let timeout = millis(ms)?;
    let stream = TcpStream::connect_timeout(&addr(to)?, timeout)
        .map_err(|e| format!("connect {to}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|e| format!("read from {to}: {e}"))?;
    println!("{}", line.trim());
    Ok(())
}

fn udp_serve(at: &str) -> Result<(), String> {
    let socket = UdpSocket::bind(addr(at)?).map_err(|e| format!("bind {at}: {e}"))?;
    announce(socket.local_addr().map_err(|e| e.to_string())?)?;
    let mut buf = [0u8; 64];
    loop {
        let Ok((_, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let _ = socket.send_to(from.to_string().as_bytes(), from);
    }
}

fn udp_ask(bind: &str, ms: &str, targets: &[&str]) -> Result<(), String> {
    let socket = UdpSocket::bind(addr(bind)?).map_err(|e| format!("bind {bind}: {e}"))?;
    socket
        .set_read_timeout(Some(millis(ms)?))
        .map_err(|e| e.to_string())?;
    for target in targets {
        let to = addr(target)?;
        socket
            .send_to(b"?", to)
            .map_err(|e| format!("send to {to}: {e}"))?;
        let mut buf = [0u8; 64];
        let (n, _) = socket
            .recv_from(&mut buf)
            .map_err(|e| format!("no answer from {to}: {e}"))?;
        println!("{}", String::from_utf8_lossy(&buf[..n]));
    }
    Ok(())
}

fn http(method: &str, url: &str, body: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("'{url}' is not an http:// URL"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = TcpStream::connect(host).map_err(|e| format!("connect {host}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "{method} /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("send to {host}: {e}"))?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| format!("read from {host}: {e}"))?;
    let (head, content) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    println!("{}", head.lines().next().unwrap_or_default());
    println!("{content}");
    Ok(())
}
