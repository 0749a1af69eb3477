// Tests read mail back from a real SMTP server; start it on port 0.
export { startSmtpSink, type ReceivedMail, type SmtpSink, type SmtpSinkOptions } from '../../mail/smtpSink';
