-- SPDX-License-Identifier: Apache-2.0
-- 0008: rollouts of templated bundles (docs/rollouts.md, docs/internals/rollout.md).
--
-- A node's desired state is its envelope in node_bundles and, for a templated bundle, its
-- rendered files in node_bundle_files (the blobs only that node may fetch). A rollout
-- replaces both when it notifies a target; 0005 kept only the envelope for a cancel, so a
-- node whose previous desired bundle was its own instance of a templated bundle got that
-- envelope back without the files it names. The files come back too now.

-- The node's rendered files before the first notification, [{"p": path, "s": sha256}]
-- (NULL: none), restored with prev_envelope on cancel.
ALTER TABLE rollout_targets ADD COLUMN prev_files jsonb;
