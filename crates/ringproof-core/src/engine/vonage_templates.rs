//! The Vonage face's templates and template fragments ([`crate::vonage_template`]):
//! create, read, list, update, delete, every one scoped by the client; and the texts a
//! Vonage start gets from them.

use crate::error::{CoreError, StoreError};
use crate::ids::ClientId;
use crate::vonage_template::{self as vt, TemplateFragment, VonageTemplate};
use crate::workflow::Channel;

use super::Engine;
use super::vonage::uuid_v4;

/// A page of a list and the total the list has.
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// The texts of a verification from the client's templates: per channel, `None` where
/// ringproof's own apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateTexts {
    pub sms: Option<String>,
    pub voice: Option<String>,
}

fn conflict(e: StoreError, message: &str) -> CoreError {
    match e {
        StoreError::Conflict(_) => CoreError::TemplateConflict(message.to_owned()),
        e => e.into(),
    }
}

impl Engine {
    /// A new template of the client; the client's default if it is its first.
    pub async fn create_vonage_template(&self, client: &ClientId, name: &str) -> Result<VonageTemplate, CoreError> {
        vt::check_name(name)?;
        if self.store.count_vonage_templates(client).await? >= vt::MAX_TEMPLATES {
            return Err(CoreError::TemplateConflict(format!(
                "a client has at most {} templates",
                vt::MAX_TEMPLATES
            )));
        }
        let now = self.now();
        let t = VonageTemplate {
            id: uuid_v4(),
            client_id: client.clone(),
            name: name.to_owned(),
            is_default: false,
            created_at: now,
            updated_at: now,
        };
        self.store
            .insert_vonage_template(&t)
            .await
            .map_err(|e| conflict(e, "a template with this name already exists"))?;
        self.vonage_template(client, &t.id).await
    }

    pub async fn vonage_template(&self, client: &ClientId, id: &str) -> Result<VonageTemplate, CoreError> {
        self.store
            .vonage_template(client, id)
            .await?
            .ok_or(CoreError::TemplateNotFound)
    }

    pub async fn list_vonage_templates(
        &self,
        client: &ClientId,
        offset: u64,
        limit: u64,
    ) -> Result<Page<VonageTemplate>, CoreError> {
        Ok(Page {
            items: self.store.list_vonage_templates(client, offset, limit).await?,
            total: self.store.count_vonage_templates(client).await?,
        })
    }

    /// Renames the template and/or makes it the client's default (`Some(true)`: any other
    /// stops being it) or not (`Some(false)`: the client is then left without one).
    pub async fn update_vonage_template(
        &self,
        client: &ClientId,
        id: &str,
        name: Option<&str>,
        is_default: Option<bool>,
    ) -> Result<VonageTemplate, CoreError> {
        let mut t = self.vonage_template(client, id).await?;
        if let Some(name) = name {
            vt::check_name(name)?;
            t.name = name.to_owned();
        }
        if let Some(d) = is_default {
            t.is_default = d;
        }
        t.updated_at = self.now();
        let found = self
            .store
            .update_vonage_template(&t)
            .await
            .map_err(|e| conflict(e, "a template with this name already exists"))?;
        if !found {
            return Err(CoreError::TemplateNotFound);
        }
        Ok(t)
    }

    /// Deletes a template that has no fragment left (as Vonage: delete its fragments first).
    pub async fn delete_vonage_template(&self, client: &ClientId, id: &str) -> Result<(), CoreError> {
        if self.store.delete_vonage_template(client, id).await? {
            return Ok(());
        }
        self.vonage_template(client, id).await?;
        Err(CoreError::TemplateConflict(
            "the template still has fragments: delete them first".into(),
        ))
    }

    /// A new fragment of the client's template: its text for `channel` in `locale`
    /// (one per channel and locale).
    pub async fn create_template_fragment(
        &self,
        client: &ClientId,
        template_id: &str,
        channel: Channel,
        locale: &str,
        text: &str,
    ) -> Result<TemplateFragment, CoreError> {
        let template = self.vonage_template(client, template_id).await?;
        let locale = vt::parse_locale(locale)?;
        vt::check_text(text)?;
        if self.store.count_template_fragments(client, &template.id).await? >= vt::MAX_FRAGMENTS {
            return Err(CoreError::TemplateConflict(format!(
                "a template has at most {} fragments",
                vt::MAX_FRAGMENTS
            )));
        }
        let now = self.now();
        let f = TemplateFragment {
            id: uuid_v4(),
            client_id: client.clone(),
            template_id: template.id,
            channel,
            locale,
            text: text.to_owned(),
            created_at: now,
            updated_at: now,
        };
        self.store
            .insert_template_fragment(&f)
            .await
            .map_err(|e| conflict(e, "the template has a fragment for this channel and locale already"))?;
        Ok(f)
    }

    pub async fn template_fragment(
        &self,
        client: &ClientId,
        template_id: &str,
        id: &str,
    ) -> Result<TemplateFragment, CoreError> {
        self.store
            .template_fragment(client, template_id, id)
            .await?
            .ok_or(CoreError::TemplateNotFound)
    }

    /// The fragments of the client's template (a template of another client: not found).
    pub async fn list_template_fragments(
        &self,
        client: &ClientId,
        template_id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Page<TemplateFragment>, CoreError> {
        self.vonage_template(client, template_id).await?;
        Ok(Page {
            items: self
                .store
                .list_template_fragments(client, template_id, offset, limit)
                .await?,
            total: self.store.count_template_fragments(client, template_id).await?,
        })
    }

    pub async fn update_template_fragment(
        &self,
        client: &ClientId,
        template_id: &str,
        id: &str,
        text: &str,
    ) -> Result<TemplateFragment, CoreError> {
        let mut f = self.template_fragment(client, template_id, id).await?;
        vt::check_text(text)?;
        f.text = text.to_owned();
        f.updated_at = self.now();
        if !self.store.update_template_fragment(&f).await? {
            return Err(CoreError::TemplateNotFound);
        }
        Ok(f)
    }

    pub async fn delete_template_fragment(
        &self,
        client: &ClientId,
        template_id: &str,
        id: &str,
    ) -> Result<(), CoreError> {
        if self.store.delete_template_fragment(client, template_id, id).await? {
            Ok(())
        } else {
            Err(CoreError::TemplateNotFound)
        }
    }

    /// The texts a Vonage start gets, per channel: the named template's fragment for the
    /// channel and `locale` ([`vt::pick`]), else the client's default template's, else
    /// none (ringproof's own texts apply). A `template_id` the client has not: a 4xx
    /// naming `template_id`. `{time-limit}` is filled from `valid_for_s`.
    pub(crate) async fn vonage_template_texts(
        &self,
        client: &ClientId,
        template_id: Option<&str>,
        locale: &str,
        valid_for_s: u32,
    ) -> Result<TemplateTexts, CoreError> {
        let named = match template_id {
            Some(id) => Some(
                self.store
                    .vonage_template(client, id)
                    .await?
                    .ok_or_else(|| CoreError::invalid("template_id", "no such template"))?,
            ),
            None => None,
        };
        let default = self.store.default_vonage_template(client).await?;
        let mut texts = TemplateTexts::default();
        for t in named
            .iter()
            .chain(default.iter().filter(|d| named.as_ref().is_none_or(|n| n.id != d.id)))
        {
            if texts.sms.is_some() && texts.voice.is_some() {
                break;
            }
            let fragments = self
                .store
                .list_template_fragments(client, &t.id, 0, vt::MAX_FRAGMENTS)
                .await?;
            for (channel, slot) in [(Channel::Sms, &mut texts.sms), (Channel::Voice, &mut texts.voice)] {
                if slot.is_none() {
                    *slot = vt::pick(&fragments, channel, locale).map(|f| vt::with_time_limit(&f.text, valid_for_s));
                }
            }
        }
        Ok(texts)
    }
}
