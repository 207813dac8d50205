//! The client against the real `ovsdb-server` (Debian's openvswitch-common)
//! serving the standard `Open_vSwitch` schema, with the real `ovs-vsctl`
//! changing the database beside it. Each test runs its own server in a
//! temporary directory and stops it by pid.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::str::FromStr;
use std::time::{Duration, Instant};

use ovsdb::{Client, ClientError, Datum, Message};
use serde_json::{json, Value};

use ovs_peers::OvsdbServer as Server;

#[tokio::test]
async fn lists_databases_and_reads_the_schema() {
    let server = Server::start();
    let client = Client::connect(&server.remote()).await.unwrap();
    let dbs = client.list_dbs().await.unwrap();
    assert!(dbs.contains(&"Open_vSwitch".to_owned()), "{dbs:?}");
    let schema = client.get_schema("Open_vSwitch").await.unwrap();
    assert_eq!(schema["name"], "Open_vSwitch");
    assert!(schema["tables"]["Interface"]["columns"]["ofport"].is_object());
    assert_eq!(client.echo(vec![json!("ping")]).await.unwrap(), json!(["ping"]));
    // An unknown database is the server's error, and the session goes on.
    assert!(matches!(client.get_schema("nope").await, Err(ClientError::Server(_))));
    assert!(client.list_dbs().await.is_ok());
}

#[tokio::test]
async fn transactions_are_seen_by_ovs_vsctl() {
    let server = Server::start();
    let client = Client::connect(&server.remote()).await.unwrap();
    let results = client
        .transact(
            "Open_vSwitch",
            vec![
                json!({"op": "insert", "table": "Interface", "row": {"name": "br9", "type": "internal"}, "uuid-name": "i"}),
                json!({"op": "insert", "table": "Port", "row": {"name": "br9", "interfaces": ["named-uuid", "i"]}, "uuid-name": "p"}),
                json!({"op": "insert", "table": "Bridge", "row": {"name": "br9", "ports": ["named-uuid", "p"],
                    "external_ids": ["map", [["bridge-id", "b-9"]]]}, "uuid-name": "b"}),
                json!({"op": "insert", "table": "Open_vSwitch", "row": {"bridges": ["named-uuid", "b"]}}),
                json!({"op": "comment", "comment": "ferrovs ovsdb test"}),
            ],
        )
        .await
        .unwrap();
    assert_eq!(results.len(), 5);
    assert!(results.iter().all(|r| r.get("error").is_none()), "{results:?}");
    assert_eq!(server.vsctl(&["list-br"]), "br9\n");
    assert_eq!(server.vsctl(&["--columns=name", "--bare", "find", "bridge", "external-ids:bridge-id=b-9"]).trim(), "br9");

    // A failing operation reports its error in its result; nothing is committed.
    let results = client
        .transact(
            "Open_vSwitch",
            vec![
                json!({"op": "insert", "table": "Bridge", "row": {"name": "brX"}}),
                json!({"op": "select", "table": "NoSuchTable", "where": []}),
            ],
        )
        .await
        .unwrap();
    assert!(results.iter().any(|r| r.get("error").is_some()), "{results:?}");
    assert_eq!(server.vsctl(&["list-br"]), "br9\n");
}

#[tokio::test]
async fn monitor_cond_gives_initial_rows_and_update2_for_ovs_vsctl_changes() {
    let server = Server::start();
    server.vsctl(&["add-br", "br0"]);
    let mut client = Client::connect(&server.remote()).await.unwrap();
    let initial =
        client.monitor_cond("Open_vSwitch", json!("m1"), json!({"Bridge": [{"columns": ["name", "external_ids"]}]})).await.unwrap();
    let rows = initial["Bridge"].as_object().unwrap();
    assert_eq!(rows.len(), 1);
    let row = rows.values().next().unwrap();
    assert_eq!(row["initial"]["name"], "br0");

    server.vsctl(&["br-set-external-id", "br0", "bridge-id", "xyz"]);
    let note = tokio::time::timeout(Duration::from_secs(5), client.next_notification()).await.unwrap().unwrap();
    let Message::Notification { method, params } = note else { panic!("{note:?}") };
    assert_eq!(method, "update2");
    assert_eq!(params[0], json!("m1"));
    let modify: &Value = params[1]["Bridge"].as_object().unwrap().values().next().unwrap();
    let ids = Datum::from_json(&modify["modify"]["external_ids"]).unwrap();
    assert_eq!(ids, Datum::from_json(&json!(["map", [["bridge-id", "xyz"]]])).unwrap());
}

#[tokio::test]
async fn a_server_that_goes_away_fails_pending_and_later_requests() {
    let server = Server::start();
    let mut client = Client::connect(&server.remote()).await.unwrap();
    assert!(client.list_dbs().await.is_ok());
    drop(server);
    assert!(matches!(client.list_dbs().await, Err(ClientError::Closed)));
    assert!(client.next_notification().await.is_none());
}

#[tokio::test]
async fn bad_remotes_are_clear_errors() {
    assert!(matches!(Client::connect("punix:/x").await, Err(ClientError::Remote(_))));
    assert!(matches!(Client::connect("ssl:127.0.0.1:6640").await, Err(ClientError::Ssl(_))));
    let missing = Client::connect("unix:/nonexistent/db.sock").await;
    assert!(matches!(&missing, Err(ClientError::Connect { .. })));
    assert!(missing.unwrap_err().to_string().contains("/nonexistent/db.sock"));
}

/// A replica kept up to date from `update2` notifications while the real
/// `ovs-vsctl` adds, changes and deletes rows equals the snapshot a fresh
/// monitor returns afterwards.
#[tokio::test]
async fn a_replica_kept_by_update2_equals_a_fresh_snapshot() {
    use ovsdb::{Replica, Schema};

    let server = Server::start();
    server.vsctl(&["init"]);
    let mut client = Client::connect(&server.remote()).await.unwrap();
    let schema = Schema::from_json(&client.get_schema("Open_vSwitch").await.unwrap()).unwrap();
    let all: serde_json::Map<String, Value> = schema.tables.keys().map(|t| (t.clone(), json!([{}]))).collect();
    let mut replica = Replica::new(schema.clone());
    replica.apply_update2(&client.monitor_cond("Open_vSwitch", json!("live"), Value::Object(all.clone())).await.unwrap()).unwrap();
    replica.take_changes();

    server.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
    server.vsctl(&["add-port", "br0", "p0", "--", "set", "Interface", "p0", "type=dpdk", "options:dpdk-devargs=net_null0"]);
    server.vsctl(&["set", "Interface", "p0", "external-ids:iface-id=vif1", "external-ids:attached-mac=02:00:00:00:00:01"]);
    server.vsctl(&["set", "Interface", "p0", "external-ids:iface-id=vif2"]);
    server.vsctl(&["remove", "Interface", "p0", "external-ids", "attached-mac"]);
    server.vsctl(&["set", "open_vswitch", ".", "other_config:pmd-cpu-mask=0x2"]);
    server.vsctl(&["add-br", "br1"]);
    server.vsctl(&["del-br", "br1"]);

    let fresh = Client::connect(&server.remote()).await.unwrap();
    let mut snapshot = Replica::new(schema);
    snapshot.apply_update2(&fresh.monitor_cond("Open_vSwitch", json!("snap"), Value::Object(all)).await.unwrap()).unwrap();

    let deadline = Instant::now() + Duration::from_secs(5);
    while replica.contents() != snapshot.contents() {
        let left = deadline.saturating_duration_since(Instant::now());
        let note = tokio::time::timeout(left, client.next_notification()).await.expect("replica never caught up").unwrap();
        let Message::Notification { method, params } = note else { continue };
        assert_eq!(method, "update2");
        replica.apply_update2(&params[1]).unwrap();
    }
    let changes = replica.take_changes();
    assert!(changes.iter().any(|c| c.table == "Bridge" && c.change == ovsdb::Change::Insert));
    assert!(changes.iter().any(|c| c.table == "Bridge" && matches!(c.change, ovsdb::Change::Delete(_))));
    let p0 =
        replica.rows("Interface").find(|(_, r)| r.get("name") == Some(&ovsdb::Datum::scalar(ovsdb::Atom::String("p0".into())))).unwrap().1;
    assert_eq!(p0["external_ids"], ovsdb::Datum::from_json(&json!(["map", [["iface-id", "vif2"]]])).unwrap());
}

/// The IDL across a crash of the real `ovsdb-server`: it notices, keeps
/// retrying while the server is down, reconnects when it is back, and the
/// replica then shows what changed in the database meanwhile — and only
/// that, as changes.
#[tokio::test]
async fn the_idl_survives_an_ovsdb_server_crash_and_sees_what_changed_meanwhile() {
    use ovsdb::{Change, Event, Idl, IdlConfig};

    let mut server = Server::start();
    server.vsctl(&["init"]);
    server.vsctl(&["add-br", "br0"]);
    let mut config = IdlConfig::new(vec![server.remote()], "Open_vSwitch");
    config.tables = vec!["Open_vSwitch".into(), "Bridge".into()];
    config.backoff_min = Duration::from_millis(50);
    config.backoff_max = Duration::from_millis(200);
    let mut idl = Idl::new(config);
    assert!(matches!(idl.next_event().await, Event::Connected { .. }));
    assert_eq!(idl.replica().unwrap().rows("Bridge").count(), 1);
    idl.take_changes();

    server.kill();
    let event = tokio::time::timeout(Duration::from_secs(5), idl.next_event()).await.unwrap();
    assert_eq!(event, Event::Disconnected { reason: "connection closed".into() });

    // While it is down: a new bridge row, written with the real ovsdb-tool.
    // (Bridge is not a root table: the row must be referenced to live.)
    server.transact_offline(&json!([
        "Open_vSwitch",
        {"op": "insert", "table": "Bridge", "row": {"name": "br-offline"}, "uuid-name": "b"},
        {"op": "mutate", "table": "Open_vSwitch", "where": [], "mutations": [["bridges", "insert", ["set", [["named-uuid", "b"]]]]]}
    ]));
    let restart = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        server.restart();
        server
    });
    let event = tokio::time::timeout(Duration::from_secs(10), idl.next_event()).await.unwrap();
    let server = restart.join().unwrap();
    assert!(matches!(event, Event::Connected { .. }), "{event:?}");
    let names: Vec<_> = idl.replica().unwrap().rows("Bridge").map(|(_, r)| r["name"].to_json()).collect();
    assert!(names.contains(&json!("br-offline")) && names.contains(&json!("br0")), "{names:?}");
    // Exactly what changed: the new Bridge row, and the Open_vSwitch row
    // whose `bridges` now include it. (`ovsdb-tool transact` also gives
    // br0 a new `_version`; a row whose only change is that is left out.)
    let changes: Vec<_> = idl.take_changes().into_iter().filter(|c| c.change != Change::Modify(vec!["_version".into()])).collect();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(changes.iter().any(|c| c.table == "Bridge" && c.change == Change::Insert));
    assert!(changes
        .iter()
        .any(|c| c.table == "Open_vSwitch" && matches!(&c.change, Change::Modify(cols) if cols.contains(&"bridges".to_owned()))));
    // And the session is live: a change made now arrives as an update.
    server.vsctl(&["del-br", "br0"]);
    let event = tokio::time::timeout(Duration::from_secs(5), idl.next_event()).await.unwrap();
    assert_eq!(event, Event::Changed);
}

#[tokio::test]
async fn monitor_cond_since_change_cancel_and_locks() {
    let server = Server::start();
    server.vsctl(&["init"]);
    server.vsctl(&["add-br", "br0"]);
    let mut a = Client::connect(&server.remote()).await.unwrap();
    let b = Client::connect(&server.remote()).await.unwrap();

    // monitor_cond_since from scratch: not found, the whole table, a txn id.
    let zero = "00000000-0000-0000-0000-000000000000";
    let reply = a.monitor_cond_since("Open_vSwitch", json!("m"), json!({"Bridge": [{"columns": ["name"]}]}), zero).await.unwrap();
    assert_eq!(reply[0], json!(false));
    assert!(ovsdb::Uuid::from_str(reply[1].as_str().unwrap()).is_ok(), "{reply}");
    assert_eq!(reply[2]["Bridge"].as_object().unwrap().len(), 1);
    server.vsctl(&["add-br", "br1"]);
    let note = tokio::time::timeout(Duration::from_secs(5), a.next_notification()).await.unwrap().unwrap();
    let Message::Notification { method, params } = note else { panic!("{note:?}") };
    assert_eq!(method, "update3");
    assert_eq!(params[0], json!("m"));

    // Narrow the monitor to br1 only, then cancel it.
    a.monitor_cond_change(json!("m"), json!("m2"), json!({"Bridge": [{"where": [["name", "==", "br1"]]}]})).await.unwrap();
    a.monitor_cancel(json!("m2")).await.unwrap();
    assert!(matches!(a.monitor_cancel(json!("m2")).await, Err(ClientError::Server(_))), "cancelling twice is an error");

    // Locks: a holds, b waits; b stops waiting (the server wants that
    // before a steal), steals, and a is told.
    assert_eq!(a.lock("ferrovs").await.unwrap()["locked"], json!(true));
    assert_eq!(b.lock("ferrovs").await.unwrap()["locked"], json!(false));
    assert!(matches!(b.steal("ferrovs").await, Err(ClientError::Server(_))));
    b.unlock("ferrovs").await.unwrap();
    assert_eq!(b.steal("ferrovs").await.unwrap()["locked"], json!(true));
    let stolen = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(Message::Notification { method, .. }) = a.next_notification().await {
                if method == "stolen" {
                    return;
                }
            }
        }
    })
    .await;
    assert!(stolen.is_ok(), "a is told its lock was stolen");
    b.unlock("ferrovs").await.unwrap();
    a.set_db_change_aware(true).await.unwrap();
}

/// A transaction built with `Txn` against the replica, and `verify`
/// making a transaction fail after someone else changed what it read.
#[tokio::test]
async fn txn_inserts_by_name_and_verify_catches_a_concurrent_change() {
    use ovsdb::{Atom, Event, Idl, IdlConfig, Txn};

    let server = Server::start();
    server.vsctl(&["init"]);
    let mut config = IdlConfig::new(vec![server.remote()], "Open_vSwitch");
    config.tables = vec!["Open_vSwitch".into(), "Bridge".into()];
    let mut idl = Idl::new(config);
    assert!(matches!(idl.next_event().await, Event::Connected { .. }));
    let ovs = *idl.replica().unwrap().rows("Open_vSwitch").next().unwrap().0;

    let mut t = Txn::new();
    t.verify(idl.replica().unwrap(), "Open_vSwitch", &ovs, &["bridges"]);
    let br = t.insert("Bridge", [("name", Datum::scalar(Atom::String("br-txn".into())))]);
    t.mutate("Open_vSwitch", &ovs, [("bridges", "insert", Datum::scalar(br))]);
    let results = idl.transact(t.into_ops()).await.unwrap();
    assert!(results.iter().all(|r| r.get("error").is_none()), "{results:?}");
    assert_eq!(server.vsctl(&["list-br"]), "br-txn\n");
    while idl.replica().unwrap().rows("Bridge").count() == 0 {
        idl.next_event().await;
    }

    // A stale read: someone adds a bridge; our verify of `bridges` fails.
    let mut stale = Txn::new();
    stale.verify(idl.replica().unwrap(), "Open_vSwitch", &ovs, &["bridges"]);
    stale.update("Open_vSwitch", &ovs, [("bridges", Datum::empty())]);
    server.vsctl(&["add-br", "br-other"]);
    let results = idl.transact(stale.into_ops()).await.unwrap();
    assert_eq!(results[0]["error"], json!("timed out"), "{results:?}");
    let mut brs: Vec<String> = server.vsctl(&["list-br"]).lines().map(str::to_owned).collect();
    brs.sort();
    assert_eq!(brs, ["br-other", "br-txn"], "nothing was overwritten");
}

/// `ssl:` against the real ovsdb-server with certificates from the real
/// `ovs-pki`; a client whose certificate the server's CA did not sign is
/// refused.
#[tokio::test]
async fn ssl_remotes_with_ovs_pki_certificates() {
    use ovsdb::SslConfig;

    let port = ovs_peers::free_port();
    let mut ids = None;
    let server = Server::start_with(|dir| {
        let (ca, [key, cert], client) = ovs_peers::pki(dir);
        let args = vec![
            format!("--remote=pssl:{port}:127.0.0.1"),
            format!("--private-key={}", key.display()),
            format!("--certificate={}", cert.display()),
            format!("--ca-cert={}", ca.display()),
        ];
        ids = Some((ca, client));
        args
    });
    let (ca, [client_key, client_cert]) = ids.unwrap();
    let ssl = SslConfig { private_key: client_key, certificate: client_cert, ca_cert: ca.clone() };
    let remote = format!("ssl:127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let client = loop {
        match Client::connect_with(&remote, Some(&ssl)).await {
            Ok(c) => break c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert!(client.list_dbs().await.unwrap().contains(&"Open_vSwitch".to_owned()));

    // An identity from another CA: the server refuses it.
    let other = tempfile::tempdir().unwrap();
    let (other_ca, _, [key, cert]) = ovs_peers::pki(other.path());
    // And the other way: a server whose certificate does not chain to the
    // CA the client trusts is refused by the client.
    let wary = SslConfig { ca_cert: other_ca, ..ssl.clone() };
    assert!(matches!(Client::connect_with(&remote, Some(&wary)).await, Err(ClientError::Connect { .. })));
    let stranger = SslConfig { private_key: key, certificate: cert, ca_cert: ca };
    let refused = match Client::connect_with(&remote, Some(&stranger)).await {
        Err(_) => true,
        Ok(c) => c.list_dbs().await.is_err(),
    };
    assert!(refused, "a client certificate from another CA must not get in");
    drop(server);
}

/// After the server drops every connection (`ovsdb-server/reconnect`), the
/// IDL resumes with `monitor_cond_since` after the last transaction it saw
/// and receives only what changed meanwhile. (Only a clustered database
/// keeps the transaction history that needs; a standalone one always
/// answers "not found", and the IDL then resynchronises, as tested above.)
#[tokio::test]
async fn the_idl_resumes_after_its_last_transaction() {
    use ovsdb::{Change, Event, Idl, IdlConfig};

    let server = Server::start_clustered();
    server.vsctl(&["init"]);
    server.vsctl(&["add-br", "br0"]);
    let mut config = IdlConfig::new(vec![server.remote()], "Open_vSwitch");
    config.tables = vec!["Open_vSwitch".into(), "Bridge".into()];
    let mut idl = Idl::new(config);
    assert!(matches!(idl.next_event().await, Event::Connected { resumed: false, .. }));
    // A change seen live, so the IDL knows a recent transaction id.
    server.vsctl(&["br-set-external-id", "br0", "k", "v"]);
    assert_eq!(tokio::time::timeout(Duration::from_secs(5), idl.next_event()).await.unwrap(), Event::Changed);
    idl.take_changes();

    server.appctl(&["ovsdb-server/reconnect"]);
    let event = tokio::time::timeout(Duration::from_secs(5), idl.next_event()).await.unwrap();
    assert!(matches!(event, Event::Disconnected { .. }), "{event:?}");
    server.vsctl(&["add-br", "br-away"]);
    let event = tokio::time::timeout(Duration::from_secs(10), idl.next_event()).await.unwrap();
    assert!(matches!(event, Event::Connected { resumed: true, .. }), "{event:?}");
    let changes = idl.take_changes();
    assert!(changes.iter().any(|c| c.table == "Bridge" && c.change == Change::Insert), "{changes:?}");
    assert!(!changes.iter().any(|c| matches!(c.change, Change::Delete(_))), "{changes:?}");
    assert_eq!(idl.replica().unwrap().rows("Bridge").count(), 2);
}
