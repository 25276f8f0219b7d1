// Drives the sandbox with Clerk's JavaScript SDK, unchanged but for apiUrl; prints what it got as JSON.
// Usage: node js_sdk_drive.mjs '{"apiUrl": ..., "secretKey": ..., "jane": ..., "john": ..., "alan": ..., "totp": ..., "backupCode": ...,
//                               "secret80": ..., "otherSecret80": ..., "otherTotp80": ...}'
import { createClerkClient } from '@clerk/backend';

const args = JSON.parse(process.argv[2]);
const { users } = createClerkClient({ secretKey: args.secretKey, apiUrl: args.apiUrl });
const out = {};

// A rejected call as the SDK reports it: HTTP status and Clerk error codes.
const failure = (promise) => promise.then(
  () => null,
  (error) => ({ status: error.status, codes: (error.errors || []).map((e) => e.code) }),
);

const listed = await users.getUserList({ emailAddress: ['jane@example.com', 'john@example.com'], orderBy: 'first_name', limit: 1 });
out.list = { firstNames: listed.data.map((u) => u.firstName), totalCount: listed.totalCount };

out.oldest = (await users.getUserList({ orderBy: '+created_at', limit: 2, offset: 1 })).data.map((u) => u.id);
out.searched = (await users.getUserList({ query: 'JANE@EXA' })).data.map((u) => u.id);
out.wrongKey = await failure(createClerkClient({ secretKey: 'sk_test_wrong', apiUrl: args.apiUrl }).users.getUser(args.jane));

const jane = await users.getUser(args.jane);
out.jane = { email: jane.primaryEmailAddress?.emailAddress, username: jane.username, publicMetadata: jane.publicMetadata };

const created = await users.createUser({
  emailAddress: ['js@example.com'], password: 'js-password-1', username: 'jsuser', firstName: 'Js',
  privateMetadata: { source: 'js' }, totpSecret: args.secret80,
});
out.created = { id: created.id, passwordEnabled: created.passwordEnabled, privateMetadata: created.privateMetadata,
                totpEnabled: created.totpEnabled };

const updated = await users.updateUser(created.id, { lastName: 'Person', publicMetadata: { tier: 'gold' }, totpSecret: args.otherSecret80 });
out.updated = { lastName: updated.lastName, publicMetadata: updated.publicMetadata, privateMetadata: updated.privateMetadata };

const merged = await users.updateUserMetadata(created.id, { privateMetadata: { source: null, n: 1 } });
out.merged = { privateMetadata: merged.privateMetadata, publicMetadata: merged.publicMetadata };

out.banned = (await users.banUser(created.id)).banned;
out.unbanned = (await users.unbanUser(created.id)).banned;

out.password = await users.verifyPassword({ userId: created.id, password: 'js-password-1' });
out.wrongPassword = await failure(users.verifyPassword({ userId: created.id, password: 'not-the-password' }));
out.totp = await users.verifyTOTP({ userId: args.john, code: args.totp });
out.backupCode = await users.verifyTOTP({ userId: args.john, code: args.backupCode });
out.backupCodeAgain = await failure(users.verifyTOTP({ userId: args.john, code: args.backupCode }));
out.disabledMfa = await users.disableUserMFA(args.john);
out.johnTwoFactor = (await users.getUser(args.john)).twoFactorEnabled;

const tokens = await users.getUserOauthAccessToken(args.alan, 'google');
out.tokens = { tokens: tokens.data.map((t) => t.token), provider: tokens.data[0]?.provider, totalCount: tokens.totalCount };

const memberships = await users.getOrganizationMembershipList({ userId: args.jane, limit: 1 });
out.memberships = { count: memberships.data.length, totalCount: memberships.totalCount, role: memberships.data[0]?.role,
                    organization: memberships.data[0]?.organization?.slug };

const imaged = await users.updateUserProfileImage(created.id, { file: new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], { type: 'image/png' }) });
out.image = { hasImage: imaged.hasImage, imageUrl: imaged.imageUrl };

// Every operation above ran on a user holding an 80-bit TOTP secret; verify it, then turn MFA off.
out.totp80 = await users.verifyTOTP({ userId: created.id, code: args.otherTotp80 });
out.disabledMfa80 = await users.disableUserMFA(created.id);

const deleted = await users.deleteUser(created.id);
out.deleted = { id: deleted.id, deleted: deleted.deleted, object: deleted.object };
out.afterDelete = await failure(users.getUser(created.id));

// The support toolsets (security, sessions, profile): every operation @clerk/backend has a method for.
const { sessions } = createClerkClient({ secretKey: args.secretKey, apiUrl: args.apiUrl });
const lucy = await users.createUser({ emailAddress: ['lucy.js@example.com'], password: 'lucy-password-1', totpSecret: args.secret80,
                                      backupCodes: ['222222'] });
out.locked = (await users.lockUser(lucy.id)).locked;
out.unlocked = (await users.unlockUser(lucy.id)).locked;
out.compromised = (await users.setPasswordCompromised(lucy.id, { revokeAllSessions: false })).passwordEnabled;
out.uncompromised = (await users.unsetPasswordCompromised(lucy.id)).id === lucy.id;
out.deletedTotp = await users.deleteUserTOTP(lucy.id);
out.deletedBackupCodes = await users.deleteUserBackupCodes(lucy.id);
out.passwordRemoved = (await users.removePassword(lucy.id, { signOutOfOtherSessions: true })).passwordEnabled;
const imagedLucy = await users.updateUserProfileImage(lucy.id, { file: new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], { type: 'image/png' }) });
out.imageDeleted = [imagedLucy.hasImage, (await users.deleteUserProfileImage(lucy.id)).hasImage];
const passkeyDeleted = await users.deleteUserPasskey({ userId: args.jane, passkeyIdentificationId: args.janePasskey });
out.passkeyDeleted = { id: passkeyDeleted.id, deleted: passkeyDeleted.deleted };
const janeSessions = await sessions.getSessionList({ userId: args.jane, status: 'active' });
out.sessions = { ids: janeSessions.data.map((s) => s.id), totalCount: janeSessions.totalCount };
out.session = (await sessions.getSession(args.janeSession)).status;
out.revoked = (await sessions.revokeSession(args.janeSession)).status;
out.replaced = (await users.replaceUserMetadata(args.jane, { publicMetadata: { plan: 'free' } })).publicMetadata;
const invitations = await users.getOrganizationInvitationList({ userId: args.ada, status: 'pending' });
out.invitations = { totalCount: invitations.totalCount, organization: invitations.data[0]?.publicOrganizationData?.slug };

console.log(JSON.stringify(out));
