// Drives the sandbox's toolset operations with Clerk's JavaScript SDK, unchanged but for apiUrl; prints what it got as JSON.
// Usage: node js_sdk_toolsets.mjs '{"apiUrl": ..., "secretKey": ..., "jane": ..., "john": ..., "alan": ..., "satoshi": ...}'
// @clerk/backend has no method for a user's credit balance (GET/POST /users/{id}/billing/credits): those two are not here.
import { createClerkClient } from '@clerk/backend';

const args = JSON.parse(process.argv[2]);
const { users, emailAddresses, phoneNumbers, billing } = createClerkClient({ secretKey: args.secretKey, apiUrl: args.apiUrl });
const out = {};

const failure = (promise) => promise.then(
  () => null,
  (error) => ({ status: error.status, codes: (error.errors || []).map((e) => e.code) }),
);

// toolset identifiers
const added = await emailAddresses.createEmailAddress({ userId: args.john, emailAddress: 'John.Js@example.com', verified: true });
out.added = { emailAddress: added.emailAddress, status: added.verification?.status };
out.fetched = (await emailAddresses.getEmailAddress(added.id)).id === added.id;
await emailAddresses.updateEmailAddress(added.id, { primary: true });
out.primary = (await users.getUser(args.john)).primaryEmailAddressId === added.id;
out.deletedEmail = (await emailAddresses.deleteEmailAddress(added.id)).deleted;
const replaced = await users.replaceUserEmailAddress(args.john, { emailAddress: 'john@js.example' });
out.johnEmails = (await users.getUser(args.john)).emailAddresses.map((e) => e.emailAddress);
out.replacedVerified = replaced.verification?.status;
out.linked = await failure(emailAddresses.deleteEmailAddress((await users.getUser(args.jane)).primaryEmailAddressId));

const phone = await phoneNumbers.createPhoneNumber({ userId: args.alan, phoneNumber: '+15555550432', verified: true });
const factor = await phoneNumbers.updatePhoneNumber(phone.id, { reservedForSecondFactor: true });
out.factor = { reserved: factor.reservedForSecondFactor, isDefault: factor.defaultSecondFactor };
out.fetchedPhone = (await phoneNumbers.getPhoneNumber(phone.id)).phoneNumber;
out.deletedPhone = (await phoneNumbers.deletePhoneNumber(phone.id)).deleted;
out.replacedPhone = (await users.replaceUserPhoneNumber(args.john, { phoneNumber: '+15555550433' })).phoneNumber;
out.johnTwoFactor = (await users.getUser(args.john)).twoFactorEnabled;

out.lastWallet = await failure(users.deleteUserWeb3Wallet({ userId: args.satoshi, web3WalletIdentificationId: args.satoshiWallet }));
await emailAddresses.createEmailAddress({ userId: args.satoshi, emailAddress: 'satoshi@js.example', verified: true });
out.deletedWallet = (await users.deleteUserWeb3Wallet({ userId: args.satoshi, web3WalletIdentificationId: args.satoshiWallet })).deleted;
const account = (await users.getUser(args.alan)).externalAccounts[0].id;
out.deletedAccount = (await users.deleteUserExternalAccount({ userId: args.alan, externalAccountId: account })).id === account;

// toolset billing
const subscription = await billing.getUserBillingSubscription(args.jane);
out.subscription = { status: subscription.status, plan: subscription.subscriptionItems[0].plan?.slug,
                     next: subscription.nextPayment?.amount?.amount };
out.noSubscription = await failure(billing.getUserBillingSubscription(args.john));

console.log(JSON.stringify(out));
