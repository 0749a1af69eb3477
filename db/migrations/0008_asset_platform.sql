-- Assets record their platform (DESIGN §3.2): the inactivation's device-side steps are those of a
-- platform's procedure, and a platform without one is refused at start. Existing rows are the seed's
-- devices (iOS); new rows default to it too, so an import without a Platform column means iOS.
-- The allowed values are ASSET_PLATFORMS in db/types.ts.

ALTER TABLE assets
  ADD COLUMN platform text NOT NULL DEFAULT 'ios'
  CONSTRAINT assets_platform_check CHECK (platform IN ('ios', 'ipados', 'android', 'windows', 'macos'));
