//! The requests-file format: blocks, headers, bodies, and errors that name the line.

use plateau_load::{parse_requests, read_requests_file, LoadError, RequestSpec};

fn check_error(text: &str, line: usize, message_part: &str) {
    match parse_requests(text, "reqs.http") {
        Err(LoadError::RequestsFile {
            file,
            line: got,
            message,
        }) => {
            assert_eq!(file, "reqs.http");
            assert_eq!(
                (got, message.contains(message_part)),
                (line, true),
                "{message}"
            );
            let shown = LoadError::RequestsFile {
                file,
                line: got,
                message,
            }
            .to_string();
            assert!(shown.starts_with(&format!("reqs.http:{line}: ")), "{shown}");
        }
        other => panic!("expected an error on line {line}, got {other:?}"),
    }
}

#[test]
fn parses_blocks_headers_and_bodies() {
    let text = "\
# Items API
GET /items?page=1
Accept: application/json
X-Empty:
###
POST /items HTTP/1.1
Content-Type: application/json
# a comment among headers

{\"name\": \"widget\",
 \"size\": 3}


### create done
DELETE /items/1

###

# trailing comment
HEAD /health";
    let reqs = parse_requests(text, "reqs.http").unwrap();
    assert_eq!(reqs.len(), 4);
    assert_eq!(
        reqs[0],
        RequestSpec {
            method: "GET".into(),
            path: "/items?page=1".into(),
            headers: vec![
                ("Accept".into(), "application/json".into()),
                ("X-Empty".into(), String::new())
            ],
            body: vec![],
        }
    );
    assert_eq!(reqs[1].method, "POST");
    assert_eq!(
        reqs[1].headers,
        [("Content-Type".to_string(), "application/json".to_string())]
    );
    assert_eq!(reqs[1].body, b"{\"name\": \"widget\",\n \"size\": 3}");
    assert_eq!(
        reqs[2],
        RequestSpec {
            method: "DELETE".into(),
            ..RequestSpec::get("/items/1")
        }
    );
    assert_eq!(
        reqs[3],
        RequestSpec {
            method: "HEAD".into(),
            ..RequestSpec::get("/health")
        }
    );
}

#[test]
fn keeps_crlf_inside_bodies() {
    let reqs = parse_requests("PUT /x\r\nA: b\r\n\r\nline 1\r\nline 2\r\n###\r\n", "f").unwrap();
    assert_eq!(reqs[0].headers, [("A".to_string(), "b".to_string())]);
    assert_eq!(reqs[0].body, b"line 1\r\nline 2");
}

#[test]
fn errors_name_the_line() {
    check_error("GET /a\n###\nget /b\n", 3, "upper-case method");
    check_error("GET /a\nAccept application/json\n", 2, "Name: value");
    check_error("\n\nGET\n", 3, "METHOD /path");
    check_error("GET items\n", 1, "must start with '/'");
    check_error("GET http://127.0.0.1:8080/items\n", 1, "not the URL");
    check_error("GET /a HTTP/2\n", 1, "HTTP/1.1");
    check_error("GET /a\nBad Name: x\n", 2, "bad header name");
    check_error(
        "POST /a\nTransfer-Encoding: chunked\n",
        2,
        "Transfer-Encoding",
    );
    check_error(
        "GET /a\n\nGET /b\n",
        3,
        "end each request with a line `###`",
    );
    check_error("# only comments\n\n", 2, "no requests");
    check_error("", 1, "no requests");
}

#[test]
fn reads_files_and_names_them() {
    let dir = std::env::temp_dir().join(format!("plateau-load-reqfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.http");
    std::fs::write(&good, "GET /a\n###\nGET /b\n").unwrap();
    assert_eq!(read_requests_file(&good).unwrap().len(), 2);

    let bad = dir.join("bad.http");
    std::fs::write(&bad, b"GET /a\nX: \xff\n").unwrap();
    let err = read_requests_file(&bad).unwrap_err().to_string();
    assert!(err.ends_with("bad.http:2: not valid UTF-8"), "{err}");

    let err = read_requests_file(&dir.join("missing.http"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("could not read ") && err.contains("missing.http"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
