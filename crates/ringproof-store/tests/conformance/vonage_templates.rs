//! Vonage templates and their fragments: round trips, the first template the default and
//! one default per client, names unique per client, one fragment per channel and locale,
//! a template deleted only once empty, paging, and every read or write scoped by client.

use std::sync::Arc;

use ringproof_core::StoreError;
use ringproof_core::ids::ClientId;
use ringproof_core::ports::Store;
use ringproof_core::time::Timestamp;
use ringproof_core::vonage_template::{TemplateFragment, VonageTemplate};
use ringproof_core::workflow::Channel;

use crate::conformance;
use crate::harness::{NOW, client};

conformance!(store: templates_round_trip_with_one_default, fragments_round_trip_one_per_channel_and_locale);

fn template(c: &ClientId, id: &str, name: &str, at: i64) -> VonageTemplate {
    VonageTemplate {
        id: id.into(),
        client_id: c.clone(),
        name: name.into(),
        // Not read by the insert: the store decides.
        is_default: true,
        created_at: Timestamp(NOW.millis() + at),
        updated_at: Timestamp(NOW.millis() + at),
    }
}

fn fragment(c: &ClientId, t: &str, id: &str, channel: Channel, locale: &str, at: i64) -> TemplateFragment {
    TemplateFragment {
        id: id.into(),
        client_id: c.clone(),
        template_id: t.into(),
        channel,
        locale: locale.into(),
        text: format!("{locale} {{code}}"),
        created_at: Timestamp(NOW.millis() + at),
        updated_at: Timestamp(NOW.millis() + at),
    }
}

async fn templates_round_trip_with_one_default(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let other = client(&store).await;
    assert_eq!(store.default_vonage_template(&c.id).await.unwrap(), None);
    store
        .insert_vonage_template(&template(&c.id, "t1", "one", 0))
        .await
        .unwrap();
    store
        .insert_vonage_template(&template(&c.id, "t2", "two", 1))
        .await
        .unwrap();
    store
        .insert_vonage_template(&template(&c.id, "t3", "three", 2))
        .await
        .unwrap();
    let t1 = store.vonage_template(&c.id, "t1").await.unwrap().unwrap();
    assert_eq!(t1, template(&c.id, "t1", "one", 0));
    let t2 = store.vonage_template(&c.id, "t2").await.unwrap().unwrap();
    assert!(!t2.is_default, "only the first is the default");
    assert_eq!(store.default_vonage_template(&c.id).await.unwrap(), Some(t1.clone()));

    // Names are unique per client, not across clients; the other client's first is its default.
    assert!(matches!(
        store.insert_vonage_template(&template(&c.id, "t4", "one", 3)).await,
        Err(StoreError::Conflict(_))
    ));
    store
        .insert_vonage_template(&template(&other.id, "o1", "one", 0))
        .await
        .unwrap();
    assert!(
        store
            .vonage_template(&other.id, "o1")
            .await
            .unwrap()
            .unwrap()
            .is_default
    );

    // Scoped: another client sees, changes and deletes nothing of this one's.
    assert_eq!(store.vonage_template(&other.id, "t1").await.unwrap(), None);
    let mut hijack = t2.clone();
    hijack.client_id = other.id.clone();
    hijack.is_default = true;
    assert!(!store.update_vonage_template(&hijack).await.unwrap());
    assert!(!store.delete_vonage_template(&other.id, "t2").await.unwrap());
    assert_eq!(store.count_vonage_templates(&c.id).await.unwrap(), 3);
    assert_eq!(store.count_vonage_templates(&other.id).await.unwrap(), 1);

    // Paging, oldest first.
    let ids = |ts: Vec<VonageTemplate>| ts.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_vonage_templates(&c.id, 0, 2).await.unwrap()),
        ["t1", "t2"]
    );
    assert_eq!(ids(store.list_vonage_templates(&c.id, 2, 2).await.unwrap()), ["t3"]);

    // A new default: the previous one stops being it, the other client's stays.
    let mut t3 = store.vonage_template(&c.id, "t3").await.unwrap().unwrap();
    t3.is_default = true;
    t3.name = "three-b".into();
    t3.updated_at = Timestamp(NOW.millis() + 10);
    assert!(store.update_vonage_template(&t3).await.unwrap());
    assert_eq!(store.vonage_template(&c.id, "t3").await.unwrap(), Some(t3.clone()));
    assert!(!store.vonage_template(&c.id, "t1").await.unwrap().unwrap().is_default);
    assert_eq!(store.default_vonage_template(&c.id).await.unwrap(), Some(t3.clone()));
    assert!(
        store
            .vonage_template(&other.id, "o1")
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    // A rename onto a taken name is a conflict, and changes nothing.
    let mut clash = t3.clone();
    clash.name = "one".into();
    assert!(matches!(
        store.update_vonage_template(&clash).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.vonage_template(&c.id, "t3").await.unwrap(), Some(t3.clone()));
    // Not the default any more: the client has none.
    t3.is_default = false;
    assert!(store.update_vonage_template(&t3).await.unwrap());
    assert_eq!(store.default_vonage_template(&c.id).await.unwrap(), None);

    assert!(store.delete_vonage_template(&c.id, "t2").await.unwrap());
    assert!(!store.delete_vonage_template(&c.id, "t2").await.unwrap());
    assert_eq!(store.vonage_template(&c.id, "t2").await.unwrap(), None);
}

async fn fragments_round_trip_one_per_channel_and_locale(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let other = client(&store).await;
    store
        .insert_vonage_template(&template(&c.id, "t1", "one", 0))
        .await
        .unwrap();
    store
        .insert_vonage_template(&template(&c.id, "t2", "two", 1))
        .await
        .unwrap();
    let sms = fragment(&c.id, "t1", "f1", Channel::Sms, "en-us", 0);
    store.insert_template_fragment(&sms).await.unwrap();
    store
        .insert_template_fragment(&fragment(&c.id, "t1", "f2", Channel::Voice, "en-us", 1))
        .await
        .unwrap();
    store
        .insert_template_fragment(&fragment(&c.id, "t1", "f3", Channel::Sms, "es-es", 2))
        .await
        .unwrap();
    // The same channel and locale in another template is another fragment.
    store
        .insert_template_fragment(&fragment(&c.id, "t2", "f4", Channel::Sms, "en-us", 3))
        .await
        .unwrap();
    assert!(matches!(
        store
            .insert_template_fragment(&fragment(&c.id, "t1", "f5", Channel::Sms, "en-us", 4))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.template_fragment(&c.id, "t1", "f1").await.unwrap(),
        Some(sms.clone())
    );
    assert_eq!(store.template_fragment(&c.id, "t2", "f1").await.unwrap(), None);
    assert_eq!(store.template_fragment(&other.id, "t1", "f1").await.unwrap(), None);
    let ids = |fs: Vec<TemplateFragment>| fs.into_iter().map(|f| f.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_template_fragments(&c.id, "t1", 0, 10).await.unwrap()),
        ["f1", "f2", "f3"]
    );
    assert_eq!(
        ids(store.list_template_fragments(&c.id, "t1", 1, 1).await.unwrap()),
        ["f2"]
    );
    assert!(
        store
            .list_template_fragments(&other.id, "t1", 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.count_template_fragments(&c.id, "t1").await.unwrap(), 3);
    assert_eq!(store.count_template_fragments(&other.id, "t1").await.unwrap(), 0);

    // Updates: the text and the time; another client's or template's changes nothing.
    let mut changed = sms.clone();
    changed.text = "new {code}".into();
    changed.updated_at = Timestamp(NOW.millis() + 9);
    assert!(store.update_template_fragment(&changed).await.unwrap());
    assert_eq!(
        store.template_fragment(&c.id, "t1", "f1").await.unwrap(),
        Some(changed.clone())
    );
    let mut hijack = changed.clone();
    hijack.client_id = other.id.clone();
    hijack.text = "theirs {code}".into();
    assert!(!store.update_template_fragment(&hijack).await.unwrap());
    let mut elsewhere = changed.clone();
    elsewhere.template_id = "t2".into();
    assert!(!store.update_template_fragment(&elsewhere).await.unwrap());
    assert_eq!(store.template_fragment(&c.id, "t1", "f1").await.unwrap(), Some(changed));

    // A template with fragments stays; emptied, it goes.
    assert!(!store.delete_vonage_template(&c.id, "t1").await.unwrap());
    assert!(!store.delete_template_fragment(&other.id, "t1", "f1").await.unwrap());
    assert!(!store.delete_template_fragment(&c.id, "t2", "f1").await.unwrap());
    for f in ["f1", "f2", "f3"] {
        assert!(store.delete_template_fragment(&c.id, "t1", f).await.unwrap());
    }
    assert!(!store.delete_template_fragment(&c.id, "t1", "f1").await.unwrap());
    assert!(store.delete_vonage_template(&c.id, "t1").await.unwrap());
    assert_eq!(store.vonage_template(&c.id, "t1").await.unwrap(), None);
}
